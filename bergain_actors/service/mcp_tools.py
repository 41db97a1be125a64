"""The set as a Model Context Protocol server (the official ``mcp`` SDK's ``MCPServer``), over a ``Session``.

The same server answers over stdio (``bergain-actors mcp``) and streamable HTTP (``/mcp`` on the HTTP API). Every
tool that changes anything is a command line of the live language (``control.parse``) carried out by the session's
``Desk``, exactly as typed in the terminal: an event in the log first, then an answer carrying its seq. Reading
tools and the resources read the session's view and never touch the bus. The SDK runs on anyio; under trio it
runs on trio's backend, in the set's own trio thread, so a tool may call the desk directly; every tool and resource
is ``async`` because the SDK runs plain functions in a worker thread, where the bus must never be touched.
"""

from __future__ import annotations

import base64
import itertools
import os
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import trio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import BlobResourceContents, CallToolResult, EmbeddedResource, TextContent, ToolAnnotations
from pydantic import Field

from bergain_actors import control
from bergain_actors.core import events as ev
from bergain_actors.core.summary import Summary
from bergain_actors.music.clip import ClipError
from bergain_actors.outputs import OutputRefused, check_output, write_atomically
from bergain_actors.service import chat
from bergain_actors.service.http import is_loopback
from bergain_actors.service.session import NoRouter, Session

KEEP_EVENTS = 20_000
"""Events the ``events`` tool can hand back (about 40 minutes of a set); older ones are only in the log."""
MAX_WAIT_S = 30.0
"""Longest a client may ask ``events`` to wait for news."""

Words = Annotated[str, Field(min_length=1, max_length=control.commands.MAX_TEXT)]
Prompt = Annotated[str, Field(min_length=1, max_length=4000)]

READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
"""For a client that asks before calling a tool that changes something: these never do."""
ENDS = ToolAnnotations(destructive_hint=True, open_world_hint=False)

INSTRUCTIONS = """\
This server drives bergain-actors, an AI DJ playing a live techno set. Every change you make (steer, energy, \
tempo, hold, resume, stop, swap, providers, clip into the set) is logged as an event first and answered with its \
seq; the set acts on it at its next 4-bar line (swaps at the next bar). Call `events` with the seq you got and \
types ["SteerActed"] to see what the set did about your words. `status` tells where the set is."""


def event_data(event: ev.Event) -> dict[str, Any]:
    """One event as a client reads it: its fields plus ``type``."""
    data = msgspec.to_builtins(event)
    data["type"] = type(event).__name__
    return data


class EventWindow:
    """The latest events (a bus tap), and a way to wait for the next one without polling."""

    def __init__(self, keep: int = KEEP_EVENTS) -> None:
        self.events: deque[ev.Event] = deque(maxlen=keep)
        self._news = trio.Event()

    def add(self, event: ev.Event) -> None:
        self.events.append(event)
        self._news.set()
        self._news = trio.Event()

    async def since(self, seq: int, types: frozenset[str], limit: int, wait_s: float) -> dict[str, Any]:
        """Events after ``seq`` (of ``types``, if given), waiting up to ``wait_s`` for the first one."""
        with trio.move_on_after(wait_s):
            while not (found := self._after(seq, types, limit)):
                await self._news.wait()
        oldest = self.events[0].seq if self.events else seq + 1
        last = self.events[-1].seq if self.events else 0
        return {
            "events": [event_data(e) for e in found],
            "last_seq": found[-1].seq if len(found) == limit else last,
            "missed": max(0, oldest - seq - 1),
        }

    def _after(self, seq: int, types: frozenset[str], limit: int) -> list[ev.Event]:
        found = []
        for event in self.events:
            if event.seq > seq and (not types or type(event).__name__ in types):
                found.append(event)
                if len(found) == limit:
                    break
        return found


def answered(ok: bool, text: str, data: dict[str, Any], extra: list[Any] | None = None) -> CallToolResult:
    """A tool's answer: one line for a person, the same as structured data, an error flag a model can see."""
    return CallToolResult(
        content=[TextContent(type="text", text=text), *(extra or [])],
        structured_content={"ok": ok, "text": text, **data},
        is_error=not ok,
    )


def single_word(name: str, value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ToolError(f"{name}: one word without spaces, got {value!r}")
    return value


class SetTools:
    """The MCP server of one session. ``memory`` is shared with the HTTP API's ``/ask`` conversations."""

    def __init__(self, session: Session, memory: chat.Memory | None = None, host: str = "127.0.0.1") -> None:
        self.session = session
        self.memory = memory or chat.Memory()
        self.window = EventWindow()
        self.summary = Summary()
        session.bus.taps += [self.window.add, self.summary.add]
        self._ids = itertools.count(1)
        self.server = MCPServer(
            "bergain-actors", instructions=INSTRUCTIONS, log_level="WARNING", warn_on_duplicate_tools=False
        )
        self._register()
        # Loopback: the SDK's DNS-rebinding guard (only loopback Host and Origin headers). Beyond loopback the API's
        # bearer token guards /mcp like every route, and the Host a LAN client sends is this machine's own address.
        security = None if is_loopback(host) else TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self.http_app = self.server.streamable_http_app(streamable_http_path="/mcp", transport_security=security)
        self.manager = self.server.session_manager

    async def serve_http(self, scope: Any, receive: Any, send: Any) -> None:
        """The ``/mcp`` endpoint (ASGI); needs ``manager.run()`` entered in the nursery that serves it."""
        await self.manager.handle_request(scope, receive, send)

    # --- changing: every one is a command line through the desk ----------------------------------------------

    def command(self, line: str) -> CallToolResult:
        """Carry out a command line as the terminal does; the answer carries the event's seq."""
        session = self.session
        parsed = control.parse(line)
        if isinstance(parsed, control.Help):
            return answered(True, parsed.text, {"seq": 0})
        if not session.plays and not isinstance(parsed, ev.ProviderControl):
            return answered(False, "no set is playing here: only provider commands apply", {"seq": 0})
        if session.view.ended and not isinstance(parsed, ev.ProviderControl):
            return answered(False, f"the set has ended ({session.view.ended})", {"seq": 0})
        if "request_id" in type(parsed).__struct_fields__:
            parsed = msgspec.structs.replace(parsed, request_id=f"mcp:{next(self._ids)}")
        answer = session.desk.apply(parsed)
        return answered(answer.ok, answer.text, {"seq": answer.seq, "command": line})

    def _register(self) -> None:
        tool = self.server.tool

        @tool(
            description="Steer the music with words ('darker', 'breakdown now', 'hats out'): answered with a "
            "SteerActed event at the next 4-bar line."
        )
        async def steer(words: Words) -> CallToolResult:
            return self.command(f"steer {words}")

        @tool(description="Move the energy target: '+' or '-' (a step), a change like '+0.2', or a level '0.7'.")
        async def energy(change: str) -> CallToolResult:
            return self.command(f"energy {single_word('change', change)}")

        @tool(
            description="Glide the tempo to a BPM ('126') or by a change ('+2', '-4'), 2 BPM a bar, within 20 % "
            "of the scenario's."
        )
        async def tempo(bpm: str) -> CallToolResult:
            return self.command(f"tempo {single_word('bpm', bpm)}")

        @tool(description="Hold the groove exactly as it is: the brain makes no change until resume.")
        async def hold() -> CallToolResult:
            return self.command("hold")

        @tool(description="Let the brain change things again after a hold.")
        async def resume() -> CallToolResult:
            return self.command("resume")

        @tool(
            annotations=ENDS,
            description="Wind the set down over an outro of at least `bars` bars (default 8), or end it after "
            "the bar playing now (`now`).",
        )
        async def stop(bars: Annotated[int, Field(ge=1, le=128)] | None = None, now: bool = False) -> CallToolResult:
            return self.command("stop now" if now else f"stop {bars}" if bars else "stop")

        @tool(
            description="Hot-swap an actor at the next bar line, e.g. slot 'critic' kind 'none', slot "
            "'conductor' kind 'autopilot'."
        )
        async def swap(slot: str, kind: str) -> CallToolResult:
            return self.command(f"swap {single_word('slot', slot)} {single_word('kind', kind)}")

        @tool(
            description="LM providers: 'list' them (circuit, latency), or 'add' (with kind, model, base_url), "
            "'switch' to (prefer), 'reset' (close its circuit) or 'remove' one by name."
        )
        async def providers(
            op: Literal["list", "add", "switch", "reset", "remove"] = "list",
            name: str = "",
            kind: str = "",
            model: str = "",
            base_url: str = "",
        ) -> CallToolResult:
            if op == "list":
                rows = msgspec.to_builtins(self.session.providers())
                shown = ", ".join(f"{r['name']} {r['symbol']}" for r in rows) or "no providers"
                return answered(True, shown, {"providers": rows})
            config = [single_word(k, v) for k, v in (("kind", kind), ("model", model), ("base_url", base_url)) if v]
            if op != "add" and config:
                raise ToolError(f"providers {op} takes only a name")
            return self.command(" ".join(["provider", op, single_word("name", name), *config]))

        # --- reading and asking ----------------------------------------------------------------------------------

        @tool(
            annotations=READS,
            description="Where the set is: bar, phase, energy and target, tempo, layers, brain, last decision, "
            "providers.",
        )
        async def status() -> CallToolResult:
            return answered(True, self._status_line(), self._status())

        @tool(
            annotations=READS,
            description="The set's events after seq `since` (of the given `types`, e.g. ['SteerActed']), at "
            f"most `limit`; `wait_s` (up to {MAX_WAIT_S:g}) waits for the first one instead of polling.",
        )
        async def events(
            since: Annotated[int, Field(ge=0)] = 0,
            types: list[str] | None = None,
            limit: Annotated[int, Field(ge=1, le=1000)] = 100,
            wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S)] = 0.0,
        ) -> CallToolResult:
            got = await self.window.since(since, frozenset(types or ()), limit, wait_s)
            names = ", ".join(f"{e['seq']} {e['type']}" for e in got["events"][:20])
            more = " …" if len(got["events"]) > 20 else ""
            return answered(True, f"{len(got['events'])} events: {names}{more}", got)

        @tool(
            annotations=READS,
            description="What words would do, without doing it: the intents they ask of the music with their "
            "probabilities, read as the set reads a steer (the LM's calibrated choice among what code proposes, or "
            "code alone), and `command`, the line that would ask the set for the likeliest (send it with steer).",
        )
        async def intent(words: Words) -> CallToolResult:
            found = await chat.read_intents(self.session, words, timeout=MAX_WAIT_S)
            shown = ", ".join(
                f"{i['kind']}{':' + i['role'] if i.get('role') else ''} {i['p']:.2f}" for i in found["intents"]
            )
            proposal = f"; in the set: {found['command']!r}" if found["command"] else ""
            return answered(True, f"{shown or 'nothing the vocabulary knows'}{proposal}", found)

        @tool(
            description="Ask the co-DJ about the set; the answer may suggest a command (never applied: send it "
            "with the matching tool)."
        )
        async def ask(question: Prompt, conversation: str = "mcp") -> CallToolResult:
            return await self._lm(lambda: chat.converse(self.session, self.memory, question, conversation))

        @tool(
            description="A MIDI clip from words ('4-bar acid bassline in A minor'): into the playing set from its "
            "next phrase (target 'set'), into Ableton Live ('ableton', optional track and slot), or as a MIDI "
            "file ('midi', written to midi_path or beside the set's logs, and returned)."
        )
        async def clip(
            prompt: Prompt,
            target: Literal["set", "ableton", "midi"] = "set",
            track: str = "",
            slot: Annotated[int, Field(ge=-1)] = -1,
            midi_path: str = "",
        ) -> CallToolResult:
            return await self._clip(prompt, target, track, slot, midi_path)

        @self.server.resource(
            "bergain://set/state",
            name="state",
            mime_type="application/json",
            description="The set right now (what status answers), as JSON.",
        )
        async def state() -> str:
            return msgspec.json.encode(self._status()).decode()

        @self.server.resource(
            "bergain://set/summary",
            name="summary",
            mime_type="text/plain",
            description="The set's summary so far: bars, holds, underflows, steers, commands.",
        )
        async def summary() -> str:
            return "\n".join(self.summary.lines())

    # --- helpers ----------------------------------------------------------------------------------------------------

    def _status(self) -> dict[str, Any]:
        session = self.session
        return {
            "playing": session.plays and not session.view.ended,
            "set": msgspec.to_builtins(session.view.snapshot()),
            "providers": {row.name: row.state for row in session.providers()},
        }

    def _status_line(self) -> str:
        view = self.session.view
        if not self.session.plays:
            return "no set is playing (router only)"
        if view.ended:
            return f"the set has ended ({view.ended}) after bar {view.bar + 1}"
        layers = " ".join(layer.role for layer in view.layers)
        return (
            f"bar {view.bar + 1}/{view.total_bars} {view.phase} at {view.bpm:g} BPM, energy {view.energy:.2f} "
            f"(target {view.target_energy:.2f}), brain {view.brain}, layers: {layers}"
        )

    async def _lm(self, call: Callable[[], Awaitable[Any]]) -> CallToolResult:
        """An LM-backed tool: its reply, or an error naming why no provider could answer."""
        try:
            made = await call()
        except (NoRouter, ClipError, chat.EmptyQuestion) as exc:
            return answered(False, str(exc), {"seq": 0})
        if isinstance(made, ev.LMFailed):
            rows = msgspec.to_builtins(self.session.providers())
            return answered(False, f"no LM provider could answer: {made.reason}", {"seq": 0, "providers": rows})
        data = msgspec.to_builtins(made)
        return answered(True, data.get("answer") or self._clip_line(data), data)

    async def _clip(self, prompt: str, target: str, track: str, slot: int, midi_path: str) -> CallToolResult:
        from bergain_actors.service import clips

        into = "none" if target == "midi" else target
        rid = f"mcp:{next(self._ids)}"
        result = await self._lm(
            lambda: clips.make_clip(self.session, prompt, target=into, track=track, slot=slot, request_id=rid)  # type: ignore[arg-type]
        )
        if target != "midi" or result.is_error:
            return result
        data = dict(result.structured_content or {})
        out = self._midi_file(prompt, midi_path)
        bpm = self.session.view.bpm or self.session.scenario.bpm
        write_atomically(out, lambda file: clips.write_clip_midi(data, bpm, file))
        data["midi_path"] = str(out)
        blob = EmbeddedResource(
            type="resource",
            resource=BlobResourceContents(
                uri=out.resolve().as_uri(), mime_type="audio/midi", blob=base64.b64encode(out.read_bytes()).decode()
            ),
        )
        return answered(True, f"{self._clip_line(data)}; wrote {out}", data, [blob])

    def _midi_file(self, prompt: str, given: str) -> Path:
        """``given``, never over an existing file; by default a new file beside the set's logs."""
        if given:
            out = Path(given).expanduser()
            if os.path.lexists(out):  # a file, a device, a FIFO, a link: never written over
                raise ToolError(f"midi_path: {out} exists; give another path")
            try:
                check_output(out, "midi_path", force=False)
            except OutputRefused as exc:
                raise ToolError(str(exc)) from None
            return out
        words = "-".join("".join(c for c in w if c.isalnum()) for w in prompt.lower().split()[:6]).strip("-")
        folder = self.session.scenario.path(self.session.scenario.log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"clip-{words or 'prompt'}"
        return next(out for n in itertools.count(1) if not (out := folder / f"{stem}-{n}.mid").exists())

    @staticmethod
    def _clip_line(data: dict[str, Any]) -> str:
        where = f", plays from bar {data['from_bar'] + 1}" if data.get("from_bar") is not None else ""
        shape = f"{data['bars']}-bar {data['role']} clip in {data['key']}, {len(data['notes'])} notes{where}"
        return f"{shape} ({data['how']})"
