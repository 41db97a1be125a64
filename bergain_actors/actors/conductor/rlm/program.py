"""The RLM program: a ``dspy.RLM`` writing Python against the DJ tools in a Monty sandbox.

Everything it touches goes through a ``Bridge``: the tools, every LM call (main and ``llm_query``, through one
dspy custom engine) and the report of each REPL step. Live, the bridge turns each into an event and waits for the
answering event; on ``replay --verify`` it serves the recorded answers and checks each call against the log. The
program is therefore the same code in both, and nothing in it reads a clock or unseeded randomness: the sandbox's
``random`` is seeded per run and its clock is frozen.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
from collections.abc import Callable
from typing import Any, Protocol

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price list download, offline

import dspy
import msgspec
from dspy._vendor.lm15.serde import request_to_dict
from dspy._vendor.lm15.types import Message, Response, TextPart, Usage
from dspy.primitives.code_interpreter import CodeExecutionError, CodeInterpreterError
from dspy_monty_interpreter import MontyInterpreter

from bergain_actors.core import events as ev

logging.getLogger("dspy.predict.rlm").setLevel(logging.ERROR)  # "no sub-agents on Monty", once per run

FROZEN_CLOCK = datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.UTC)


class Halt(BaseException):
    """The set is over (or the recording ran out): unwind ``forward()`` without dspy catching it."""


class LMDown(BaseException):
    """The router could not answer: ends the run at once (dspy would retry an ``Exception`` with another
    adapter, doubling the calls to a provider that is down)."""


class Bridge(Protocol):
    def call(self, tool: str, args: dict[str, Any]) -> Any:
        """Run one DJ tool on the conductor; returns what the sandbox gets back."""
        ...

    def ask(self, request: ev.LMRequest) -> str:
        """One LM call; raises ``LMDown`` when it failed, ``Halt`` when the set ended."""
        ...

    def step(self, step: ev.RLMStep) -> None:
        """Report one REPL step."""
        ...


# --- the seam for every LM call -----------------------------------------------------------------------------------


class EventEngine:
    """A dspy 3.4 custom engine: each request becomes an ``LMRequest`` through the bridge (``request_id``
    ``rlm:<run>:<n>``, numbered in call order within the run)."""

    def __init__(self, bridge: Bridge, run: int, counter: list[int], purpose: str, model: str, max_tokens: int):
        self.bridge = bridge
        self.run = run
        self.counter = counter
        self.purpose = purpose
        self.model = model
        self.max_tokens = max_tokens

    def complete(self, request: Any) -> Response:
        data = request_to_dict(request)
        self.counter[0] += 1
        text = self.bridge.ask(
            ev.LMRequest(
                request_id=f"rlm:{self.run}:{self.counter[0]}",
                purpose=self.purpose,
                messages=messages_of(data),
                model=self.model,
                max_tokens=self.max_tokens,
            )
        )
        return Response(
            id=None,
            model=str(data.get("model", "")),
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=0, output_tokens=0),
        )


def messages_of(data: dict[str, Any]) -> tuple[dict[str, str], ...]:
    """lm15's request dict → chat messages as plain text (what the router and the log carry)."""
    out: list[dict[str, str]] = []
    system = data.get("system")
    if system:
        out.append({"role": "system", "content": system if isinstance(system, str) else _text(system)})
    for message in data.get("messages", []):
        out.append({"role": str(message.get("role", "user")), "content": _text(message.get("parts", []))})
    return tuple(out)


def _text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


# --- the sandbox --------------------------------------------------------------------------------------------------


class Sandbox(MontyInterpreter):
    """Monty with our limits. A step killed by the hard ``request_timeout`` becomes an error the model sees (like
    the soft turn limit), so the run goes on; either way the message is fixed text, because Monty's own names the
    measured duration, which would make the next prompt (and replay) depend on timing."""

    def execute(self, code: str, variables: dict[str, Any] | None = None) -> Any:
        try:
            return super().execute(code, variables)
        except CodeExecutionError as exc:  # a subclass of CodeInterpreterError: first
            if "time limit exceeded" not in str(exc):
                raise
        except CodeInterpreterError as exc:
            if "timeout" not in str(exc):
                raise
        raise CodeExecutionError(TIMEOUT_MESSAGE)


TIMEOUT_MESSAGE = (
    "TimeoutError: the step ran past the sandbox's time limit; the sandbox was reset and all variables were lost"
)


class _SandboxFactory:
    def __init__(self, seed: int, timeout_s: float, memory_mb: int) -> None:
        kwargs = {
            "request_timeout": timeout_s * 2,
            "resource_limits": {"max_memory": memory_mb << 20, "max_turn_duration_secs": timeout_s},
            "os_policy": {"random_start": {"seed": seed}, "datetime": FROZEN_CLOCK, "sleep": "zero"},
        }
        self.kwargs = kwargs
        self.execution_instructions = MontyInterpreter.factory(**kwargs).execution_instructions

    def __call__(self) -> Sandbox:
        return Sandbox(**self.kwargs)


# --- the DJ tools -------------------------------------------------------------------------------------------------


def make_tools(bridge: Bridge, live: bool = False) -> list[Callable[..., Any]]:
    """The tools as the sandbox sees them: plain sync functions whose docstrings are the model's manual; with
    ``live`` (a set played into Ableton Live) the Live tools too."""

    def call(tool: str, **args: Any) -> Any:
        for name, value in args.items():
            if not _finite(value):  # would become an event unequal to itself
                return f"refused: {name} must hold finite numbers, got {value}"
        return bridge.call(tool, {k: _plain(v) for k, v in args.items()})

    def play(bars: int = 8) -> dict:
        """Let the current mix play for `bars` bars (1-32); returns when they have been played, with the set's
        status: bars_played, phase, energy, target_energy, layers_allowed, mixer, feedback, set_over."""
        return call("play", bars=bars)

    def breakdown(bars: int = 8) -> str:
        """Drop the kick and low end for `bars` bars, then bring them back."""
        return call("breakdown", bars=bars)

    def add(role: str, gain: float = 0.6, pattern: str = "") -> str:
        """Add a layer of `role` at `gain` (0-1) with a named pattern ('' = the role's default)."""
        return call("add", role=role, gain=gain, pattern=pattern)

    def remove(role: str) -> str:
        """Take `role` off the mixer."""
        return call("remove", role=role)

    def fader(role: str, gain: float) -> str:
        """Set `role`'s gain (0-1; capped per role)."""
        return call("fader", role=role, gain=gain)

    def pattern(role: str, name: str) -> str:
        """Give `role` a named rhythm pattern (an unknown name lists the valid ones)."""
        return call("pattern", role=role, name=name)

    def mute(role: str) -> str:
        """Silence `role` but keep it on the mixer."""
        return call("mute", role=role)

    def unmute(role: str) -> str:
        """Bring a muted `role` back."""
        return call("unmute", role=role)

    def swap(role: str, choice: int = -1) -> str:
        """Another sample for `role`: an index into its samples, or -1 for a random other one."""
        return call("swap", role=role, choice=choice)

    def history(last_n: int = 8) -> dict:
        """The last `last_n` moves and the recent energy per bar."""
        return call("history", last_n=last_n)

    def feedback() -> list:
        """Since you last asked: the Critic's directives (energy, density, loudness) and the performer's requests
        ("performer: ..."), which come first."""
        return call("feedback")

    tools = [play, breakdown, add, remove, fader, pattern, mute, unmute, swap, history, feedback]
    return tools + live_tools(call) if live else tools


def live_tools(call: Callable[..., Any]) -> list[Callable[..., Any]]:
    """The bergain composer's tools on Ableton Live. What they read is a snapshot of Live the set logged; what they
    do is carried out by the Ableton actor, and they answer when Live has done it ("done: ..." or "error: ...")."""

    def live_status() -> dict:
        """Live as last read: tempo, playing, scenes, browser (whether devices can be loaded), mode, and each track
        (index, name, midi, set_role: the set's own tracks, which you may not change; volume, pan, devices, clips
        by slot), and how many operations this phrase still allows."""
        return call("live_status")

    def live_tempo(bpm: float) -> str:
        """Glide the set's tempo (Live's and ours) to `bpm`, 2 BPM a bar, within 20% of the scenario's tempo."""
        return call("live_tempo", bpm=bpm)

    def live_create_track(name: str) -> str:
        """Create a MIDI track named `name` at the end of the set (at most 4 per set)."""
        return call("live_create_track", name=name)

    def live_delete_track(track: str) -> str:
        """Delete a track you created (the last one), by name or index."""
        return call("live_delete_track", track=track)

    def live_browse(category: str = "instruments") -> list:
        """What the browser offers: instruments, drums, audio_effects or midi_effects."""
        return call("live_browse", category=category)

    def live_load(track: str, name: str, kind: str = "instrument") -> str:
        """Load a device from the browser onto a track (name or index): kind instrument, drum_kit, audio_effect or
        midi_effect. Instruments go on your own MIDI tracks; audio effects on any track."""
        return call("live_load", track=track, name=name, kind=kind)

    def live_params(track: str, device: int = 0) -> list:
        """A device's parameters on a track: index, name, value, min, max."""
        return call("live_params", track=track, device=device)

    def live_set_param(track: str, device: int, param: int, value: float) -> str:
        """Set a device parameter (clamped to its min..max)."""
        return call("live_set_param", track=track, device=device, param=param, value=value)

    def live_mix(track: str, volume: float | None = None, pan: float | None = None) -> str:
        """Set one of your tracks' volume (0-0.85; 0.85 is 0 dB) and/or pan (-1..1)."""
        return call("live_mix", track=track, volume=volume, pan=pan)

    def live_play() -> str:
        """Whether Live's transport runs (it is the set's clock: the set starts it)."""
        return call("live_play")

    def live_stop(track: str = "") -> str:
        """Stop the clip playing on one of your tracks (the transport itself never stops mid-set)."""
        return call("live_stop", track=track)

    def live_fire_clip(track: str, slot: int) -> str:
        """Launch the clip in `slot` of one of your tracks on the next bar line."""
        return call("live_fire_clip", track=track, slot=slot)

    def live_fire_scene(scene: int) -> str:
        """Launch a scene's clips on your tracks on the next bar line (scenes from 4 on; the set's tracks play on)."""
        return call("live_fire_scene", scene=scene)

    def live_write_clip(track: str, slot: int, notes: list, bars: int = 1, name: str = "") -> str:
        """Write a looping clip of `bars` bars into `slot` of a MIDI track of yours: notes are
        [pitch, start_beat, length_beats, velocity] lists (at most 256)."""
        return call("live_write_clip", track=track, slot=slot, notes=notes, bars=bars, name=name)

    return [
        live_status,
        live_tempo,
        live_create_track,
        live_delete_track,
        live_browse,
        live_load,
        live_params,
        live_set_param,
        live_mix,
        live_play,
        live_stop,
        live_fire_clip,
        live_fire_scene,
        live_write_clip,
    ]


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def _plain(value: Any) -> Any:
    """Only plain values cross into events (lists of them too: a clip's notes)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


# --- one run ------------------------------------------------------------------------------------------------------


class DJSet(dspy.Signature):
    """You are the DJ of a live techno set, playing it bar by bar through the DJ tools. The mixer state lives on the
    host; you only make moves. Loop: look at the status, make one or two moves, then play(8) or play(16) so the
    music moves on. Less is more: one audible change per phrase. Read feedback(): the Critic, and the performer,
    who comes first. When you have played a good stretch (or play() says set_over), SUBMIT(status=...) with one
    line on how it went."""

    brief: str = dspy.InputField(desc="what the set should feel like")
    set_so_far: str = dspy.InputField(desc="where the set is: bar, phase, mixer, recent moves")
    status: str = dspy.OutputField(desc="one line on how this stretch went")


LiveDJSet = DJSet.with_instructions(
    DJSet.instructions
    + " The set also plays into Ableton Live: the live_* tools read Live (live_status) and change it (your own"
    " tracks, instruments, devices, clips and scenes; the tempo). The set's own tracks are not yours to change."
)


class StepReportingRLM(dspy.RLM):
    """``dspy.RLM`` that reports each REPL step as it happens (not only at the end of the run)."""

    def __init__(self, *args: Any, report: Callable[[int, dict[str, Any]], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._report = report

    def _process_execution_result(self, pred: Any, code: str, result: Any, history: Any, names: list[str]) -> Any:
        out = super()._process_execution_result(pred, code, result, history, names)
        entries = out.trajectory if isinstance(out, dspy.Prediction) else [e.model_dump() for e in out.entries]
        self._report(len(entries), entries[-1])
        return out


class RunConfig(msgspec.Struct, frozen=True):
    main_lm: str
    sub_lm: str
    max_iters: int
    max_llm_calls: int
    step_tokens: int
    sub_tokens: int
    sandbox_timeout_s: float
    sandbox_memory_mb: int
    live: bool = False
    """The set plays into Ableton Live: the program gets the Live tools."""


def run_and_report(bridge: Bridge, start: dict[str, Any], config: RunConfig) -> None:
    """One run from ``begin_run``'s answer to ``end_run``: the unit the live worker loops over and replay
    re-runs."""
    run = int(start["run"])
    reason = run_once(bridge, start, config)
    bridge.call("end_run", {"run": run, "reason": reason})


def run_once(bridge: Bridge, start: dict[str, Any], config: RunConfig) -> str:
    """Run the program once; returns why it ended (``submitted``, ``max_iters``, ``lm failed: …``, ``error: …``)."""
    run = int(start["run"])
    counter = [0]
    main = dspy.LM(
        f"bergain/{config.main_lm or 'router'}",
        engine=EventEngine(bridge, run, counter, "rlm", config.main_lm, config.step_tokens),
        cache=False,
    )
    sub = dspy.LM(
        f"bergain/{config.sub_lm or 'router'}",
        engine=EventEngine(bridge, run, counter, "rlm_sub", config.sub_lm, config.sub_tokens),
        cache=False,
    )

    def report(step: int, entry: dict[str, Any]) -> None:
        bridge.step(
            ev.RLMStep(
                run=run,
                step=step,
                reasoning=str(entry.get("reasoning", "")),
                code=str(entry.get("code", "")),
                output=str(entry.get("output", "")),
            )
        )

    program = StepReportingRLM(
        LiveDJSet if config.live else DJSet,
        max_iters=config.max_iters,
        max_llm_calls=config.max_llm_calls,
        tools=make_tools(bridge, live=config.live),
        sub_lm=sub,
        interpreter_factory=_SandboxFactory(int(start["seed"]), config.sandbox_timeout_s, config.sandbox_memory_mb),
        report=report,
    )
    try:
        with dspy.context(lm=main):
            result = program(brief=str(start["brief"]), set_so_far=str(start["summary"]))
    except LMDown as exc:
        return f"lm failed: {exc}"
    except Exception as exc:  # a parse error or a sandbox crash ends this run; the next one starts fresh
        return _short(f"error: {type(exc).__name__}: {exc}")
    return "max_iters" if result.final_reasoning == "Extract forced final output" else "submitted"


def _short(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."
