"""The ``rlm`` brain: the trio side of the RLM program (see the package docstring for the whole design)."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
import trio

from bergain_actors.actors.conductor.autopilot import AutopilotBrain
from bergain_actors.actors.conductor.base import Brain, Conductor
from bergain_actors.actors.conductor.rlm import live_tools, program
from bergain_actors.actors.conductor.rlm.program import Halt, LMDown
from bergain_actors.core import events as ev
from bergain_actors.music.mixer import known_patterns

WORKER = "rlm"
"""Source of the worker's events: not a deciding slot, so ``replay --verify`` feeds them in as recorded inputs."""

MOVES = ("add", "remove", "fader", "pattern", "mute", "unmute", "swap", "breakdown")
MAX_PLAY = 32
OP_DEADLINE_BARS = 4
"""Bars an operation on Live may take before the tool answers that the Ableton actor did not."""
IDLE_RUNS = 3
"""Runs in a row that end without playing a bar before the brain steps down."""


class RLMBrain(Brain):
    """The trio side of the RLM program: answers its tool calls and LM requests, paces its ``play``."""

    name = "rlm"

    def __init__(self, conductor: Conductor) -> None:
        super().__init__(conductor)
        config = conductor.config
        self.run_config = program.RunConfig(
            main_lm=config.main_lm,
            sub_lm=config.sub_lm,
            max_iters=config.max_iters,
            max_llm_calls=config.max_llm_calls,
            step_tokens=config.step_tokens,
            sub_tokens=config.decision_tokens,
            sandbox_timeout_s=config.sandbox_timeout_s,
            sandbox_memory_mb=config.sandbox_memory_mb,
            live=conductor.ctx.scenario.ableton.kind == "osc",
        )
        self.roles = sorted(self.mixer.menu)
        self.patterns = known_patterns()
        self.started = False
        self.runs = 0
        self.ended: deque[str] = deque(maxlen=3)
        self.run_from = 0
        """The bar planned next when the current run began: the run has played ``next_bar - run_from`` bars."""
        self.idle_runs = 0
        self.granted = 0
        """Offline, bars may be planned up to here: ``play`` grants them, so the set moves at the program's pace."""
        self.playing: tuple[ev.ToolCall, int] | None = None
        self.outstanding: set[str] = set()
        self.tape: list[ev.Event] = []
        """Replay only: the worker's recorded events and their answers, to re-run the program against."""
        self._wake = trio.Event()
        self._waiters: dict[str, tuple[trio.Event, list[Any]]] = {}
        self._call_ids = 0
        self.live = live_tools.LiveView(conductor.ctx.scenario.ableton.mode) if self.run_config.live else None
        """What the Live tools know of Live (a set played into Ableton): built from Ableton's events only."""
        self.ops: dict[int, tuple[ev.ToolCall, int, str]] = {}
        """Operations on Live not answered yet: op id → (the tool call, the bar it was asked at, what was clamped)."""
        self.op_ids = 0

    @property
    def next_bar(self) -> int:
        return self.conductor.next_bar

    @property
    def run_played(self) -> int:
        return self.next_bar - self.run_from

    # --- events ---------------------------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.ToolCall):
            self.record(event)
            self.on_tool(event)
        elif isinstance(event, ev.LMRequest):
            if event.source == WORKER:
                self.record(event)
                self.outstanding.add(event.request_id)
        elif isinstance(event, ev.RLMStep):
            self.record(event)
        elif isinstance(event, ev.LMResponse | ev.LMFailed) and event.request_id in self.outstanding:
            self.record(event)
            self.outstanding.discard(event.request_id)
            self._resolve(event.request_id, event)
            if isinstance(event, ev.LMFailed) and self.leading:
                self.conductor.step_down(f"LM failed: {event.reason}")
        elif isinstance(event, ev.SetEnded):
            self.started = False
        elif isinstance(event, ev.SetStarted):
            self.started = True
            if self.leading:
                self._wake.set()
        elif isinstance(event, ev.AbletonOpDone):
            self.op_done(event)
        elif isinstance(event, ev.BarPlayed):
            for op_id, (call, bar, _) in list(self.ops.items()):
                if event.bar >= bar + OP_DEADLINE_BARS:  # the Ableton actor is gone: the program must not wait on
                    del self.ops[op_id]
                    self.reply(call, f"error: no answer from the Ableton actor in {OP_DEADLINE_BARS} bars")
        if self.live is not None:
            self.live.handle(event)

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        """Built mid-set: the set has already started, so the program may run now (or it would wait forever); the
        Live tools start from Live's latest snapshot."""
        if ev.SetStarted in last and ev.SetEnded not in last:
            self.started = True
            if self.leading:
                self._wake.set()
        if self.live is not None:
            for kind in (ev.AbletonStatus, ev.LiveSnapshot):
                if kind in last:
                    self.live.handle(last[kind])

    def record(self, event: ev.Event) -> None:
        if not self.ctx.set.live:
            self.tape.append(event)

    def replay_finished(self) -> tuple[int, ev.Event | None, ev.Event | None] | None:
        """Called by ``replay --verify`` after the log: re-run the program's recorded runs (see ``verify.py``)."""
        from bergain_actors.actors.conductor.rlm import verify

        return verify.check(self.tape, self.run_config)

    def lead_changed(self, old: str, new: str) -> None:
        if new == self.name:
            self.idle_runs = 0
            self._wake.set()
        elif old == self.name:
            self.granted = 0
            self.finish_play()

    # --- planning -------------------------------------------------------------------------------------------------

    def ready(self, bar: int) -> bool:
        if not self.leading:
            return True
        return not self.conductor.fast or bar < self.granted

    def planned(self) -> None:
        if self.playing is not None and self.next_bar >= self.playing[1]:
            self.finish_play()

    def decide(self, bar: int, new_phase: bool) -> bool:
        """The program makes its moves through the tools, between phrases too. The autopilot sets up the groove it
        starts from (and would refill a mix left with nothing audible), so a slow LM never means silence, and the
        arc shapes each new phase (the breakdown included) as it does under every brain."""
        if not self.mixer.audible():
            return False
        if new_phase:
            rules = self.conductor.brain("autopilot")
            if isinstance(rules, AutopilotBrain):
                rules.enter_phase(bar)
            self.conductor.fit_cap(bar)
        del self.directives[:-4]
        return True

    # --- the tools ------------------------------------------------------------------------------------------------

    def on_tool(self, call: ev.ToolCall) -> None:
        tool, args = call.tool, call.args
        if tool == "begin_run":
            self.begin_run(call)
        elif tool == "end_run":
            self.end_run(call)
        elif not self.leading:
            self.reply(call, "refused: the LM is down and another brain has the decks; finish with SUBMIT")
        elif self.next_bar >= self.total:
            self.reply(call, self.status(set_over=True) if tool == "play" else "refused: the set is over")
        elif tool == "play":
            bars = min(max(_int(args.get("bars"), 8), 1), MAX_PLAY)
            self.playing = (call, min(self.next_bar + bars, self.total))
            self.granted = max(self.granted, self.playing[1])
            self.conductor.plan_through(self.conductor.horizon)
        elif tool in MOVES:
            self.reply(call, self.tool_move(call))
        elif self.live is not None and (tool in live_tools.MAKERS or tool in live_tools.READERS):
            self.live_tool(call)
        elif tool == "history":
            recent = self.conductor.recent
            last = min(max(_int(args.get("last_n"), 8), 1), len(recent) or 1)
            energies = [round(e, 3) for e in self.conductor.energies]
            self.reply(call, {"moves": list(recent)[-last:], "energy": energies})
        elif tool == "feedback":
            texts = [d.text for d in self.directives] + [f"performer: {words}" for words in self.heard()]
            self.directives.clear()
            self.reply(call, texts)
        else:
            self.reply(call, f"refused: unknown tool {tool!r}")

    def tool_move(self, call: ev.ToolCall) -> str:
        args, role, bar = call.args, str(call.args.get("role", "")), self.next_bar
        if call.tool == "breakdown":
            return self.move("breakdown", "", bar, cause=call.seq, bars=min(max(_int(args.get("bars"), 8), 1), 32))
        if call.tool == "add":
            return self.move(
                "add", role, bar, cause=call.seq, gain=args.get("gain", 0.6), pattern=str(args.get("pattern") or "")
            )
        if call.tool == "fader":
            return self.move("fader", role, bar, cause=call.seq, gain=args.get("gain"))
        if call.tool == "pattern":
            return self.move("pattern", role, bar, cause=call.seq, name=str(args.get("name", "")))
        if call.tool == "swap":
            choice = _int(args.get("choice"), -1)
            return self.move("swap", role, bar, cause=call.seq, **({"choice": choice} if choice >= 0 else {}))
        return self.move(call.tool, role, bar, cause=call.seq)

    def live_tool(self, call: ev.ToolCall) -> None:
        """A Live tool: a reading of the view answered at once, or an operation published as an ``AbletonOp`` and
        answered when the Ableton actor says how it went (``op_done``)."""
        assert self.live is not None
        tool, args, phrase = call.tool, call.args, self.next_bar // self.conductor.phrase_bars
        if tool == "live_status":
            self.reply(call, live_tools.status(self.live, phrase))
        elif tool == "live_browse":
            self.reply(call, live_tools.browse(self.live, str(args.get("category", "instruments"))))
        elif tool == "live_params":
            self.reply(call, live_tools.params(self.live, _ref(args.get("track")), _int(args.get("device"), 0)))
        elif tool == "live_play":
            playing = live_tools.status(self.live, phrase)
            if isinstance(playing, str):
                self.reply(call, playing)
            else:
                state = "plays" if playing["playing"] else "is stopped (the set starts it when Live answers)"
                self.reply(call, f"unchanged: Live {state}; its beat is the set's clock")
        elif tool == "live_tempo":
            bpm = args.get("bpm")
            if not isinstance(bpm, int | float) or isinstance(bpm, bool):
                self.reply(call, f"refused: bpm must be a number, got {bpm!r}")
            else:
                self.reply(call, live_tools.count(self.live, phrase) or self.conductor.glide_tempo(float(bpm)))
        else:
            asked = {k: _ref(v) if k == "track" else v for k, v in args.items()}
            answer = live_tools.request(self.live, tool, asked, phrase)
            if isinstance(answer, str):
                self.reply(call, answer)
                return
            self.op_ids += 1
            self.ops[self.op_ids] = (call, self.next_bar, answer.notes)
            self.ctx.emit(
                ev.AbletonOp(op_id=self.op_ids, op=answer.op, args=answer.args, bar=self.next_bar, cause=call.seq)
            )

    def op_done(self, done: ev.AbletonOpDone) -> None:
        pending = self.ops.pop(done.op_id, None)
        if pending is not None:
            call, _, notes = pending
            self.reply(call, f"{done.status}: {done.detail}" + (f" ({notes})" if notes else ""))

    def begin_run(self, call: ev.ToolCall) -> None:
        if not self.started or not self.leading or self.next_bar >= self.total:
            self.reply(call, {"go": False})
            return
        self.runs += 1
        self.run_from = self.next_bar
        seed = self.ctx.rng(self.next_bar, f"sandbox:{self.runs}").randrange(2**31)
        brief = self.conductor.brief
        self.reply(call, {"go": True, "run": self.runs, "seed": seed, "brief": brief, "summary": self.summary()})

    def end_run(self, call: ev.ToolCall) -> None:
        reason = str(call.args.get("reason", ""))
        self.ended.append(f"run {call.args.get('run')}: {reason}")
        self.idle_runs = self.idle_runs + 1 if self.run_played == 0 else 0
        conductor = self.conductor
        if self.leading and self.idle_runs >= IDLE_RUNS:
            conductor.step_down(f"{IDLE_RUNS} runs in a row ended without playing ({reason})")
        elif self.leading and self.run_played == 0:
            self.granted = max(self.granted, self.next_bar + conductor.phrase_bars)  # the music moves on meanwhile
            conductor.plan_through(conductor.horizon)
        self.reply(call, "ok")

    def finish_play(self) -> None:
        if self.playing is not None:
            call, _ = self.playing
            self.playing = None
            self.reply(call, self.status(set_over=self.next_bar >= self.total))

    def status(self, set_over: bool) -> dict[str, Any]:
        feedback = [d.text for d in self.directives] + [f"performer: {words}" for words in self.heard()]
        self.directives.clear()
        return {
            "bars_played": self.next_bar,
            "bars_left": self.total - self.next_bar,
            "phase": self.phase,
            "energy": round(self.mixer.energy(), 3),
            "target_energy": round(self.target, 3),
            "layers_allowed": self.cap,
            "mixer": self.mixer.snapshot(),
            "feedback": feedback,
            "set_over": set_over,
        }

    def summary(self) -> str:
        """Where the set is, for a new run: its inputs come from this (logged) answer, never from shared state."""
        mixer = "; ".join(
            f"{r} {c['gain']:.2f} {c['pattern']}{' muted' if c['muted'] else ''}"
            for r, c in self.mixer.snapshot().items()
        )
        lines = [
            f"Bar {self.next_bar} of {self.total} ({self.total - self.next_bar} left), phase {self.phase or 'intro'},"
            f" target energy {self.target:.2f}, at most {self.cap} layers.",
            f"Mixer: {mixer or 'empty'}.",
            f"Roles in the pack: {', '.join(self.roles)}.",
            f"Patterns: {', '.join(self.patterns)}.",
        ]
        if self.conductor.recent:
            lines.append("Recent moves: " + " | ".join(list(self.conductor.recent)[-6:]))
        if self.ended:
            lines.append("Earlier runs: " + " | ".join(self.ended))
        return "\n".join(lines)

    def reply(self, call: ev.ToolCall, value: Any) -> None:
        value = msgspec.to_builtins(value)  # what the log will hold is exactly what the sandbox gets
        self.record(
            self.ctx.emit(
                ev.ToolResult(call_id=call.call_id, tool=call.tool, value=value, bar=self.next_bar, cause=call.seq)
            )
        )
        self._resolve(f"tool:{call.call_id}", value)

    # --- the worker thread ----------------------------------------------------------------------------------------

    async def work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            await trio.to_thread.run_sync(self._work)

    def _work(self) -> None:
        """The worker thread: runs the program again and again while the conductor says go."""
        bridge = LiveBridge(self)
        try:
            while True:
                start = bridge.call("begin_run", {})
                if not start.get("go"):
                    return
                program.run_and_report(bridge, start, self.run_config)
        except Halt:
            return

    def _resolve(self, key: str, value: Any) -> None:
        waiter = self._waiters.pop(key, None)
        if waiter is not None:
            waiter[1].append(value)
            waiter[0].set()

    async def _await(self, key: str, publish: ev.Event) -> Any:
        """Publish a worker event and wait for its answer (which may come inside the publish cascade)."""
        await trio.lowlevel.checkpoint()  # a stopping set raises here, before anything more is published
        done, box = trio.Event(), []
        self._waiters[key] = (done, box)
        try:
            self.ctx.bus.publish(publish, source=WORKER)
            await done.wait()
        finally:
            self._waiters.pop(key, None)
        return box[0]

    async def tool_call(self, tool: str, args: dict[str, Any]) -> Any:
        self._call_ids += 1
        call_id = self._call_ids
        return await self._await(
            f"tool:{call_id}", ev.ToolCall(call_id=call_id, tool=tool, args=args, bar=self.next_bar)
        )

    async def lm_call(self, request: ev.LMRequest) -> str:
        deadline = self.next_bar + self.conductor.phrase_bars
        request = msgspec.structs.replace(request, deadline_bar=deadline, bar=self.next_bar)
        answer = await self._await(request.request_id, request)
        if isinstance(answer, ev.LMFailed):
            raise LMDown(answer.reason)
        return answer.text

    async def rlm_step(self, step: ev.RLMStep) -> None:
        await trio.lowlevel.checkpoint()
        self.ctx.bus.publish(msgspec.structs.replace(step, bar=self.next_bar), source=WORKER)


class RLMConductor(Conductor):
    """The rlm brain leading, the phrase brain and the autopilot under it."""

    kind = "rlm"
    brain_kind = "rlm"


class LiveBridge:
    """The worker thread's way into trio: each call blocks the thread until the answering event. Cancellation (the
    set ends) turns into ``Halt``; Monty would swallow it inside a tool, so the next call raises it again."""

    def __init__(self, brain: RLMBrain) -> None:
        self.brain = brain
        self.halted = False

    def _enter(self, fn: Any, *args: Any) -> Any:
        if self.halted:
            raise Halt
        try:
            return trio.from_thread.run(fn, *args)
        except (trio.Cancelled, trio.RunFinishedError):
            self.halted = True
            raise Halt from None

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        return self._enter(self.brain.tool_call, tool, args)

    def ask(self, request: ev.LMRequest) -> str:
        return self._enter(self.brain.lm_call, request)

    def step(self, step: ev.RLMStep) -> None:
        self._enter(self.brain.rlm_step, step)


def _ref(value: Any) -> Any:
    """A track as the program named it: an index (also as text, "3") or a name."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
