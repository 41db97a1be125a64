"""Replaying a logged set, and saying OK only when it is.

- **audit**: one pass over the log: is it whole? Seq numbers run 1, 2, 3... without gap or repeat, bars are
  played 0, 1, 2... once each, and the set ends with ``SetEnded``. Whatever is missing or damaged is a problem.
- **render**: re-render the audio from the logged plans, in the order the streamer played them (holds included):
  the WAV comes out bit-identical, and each bar's audio must match the checksum its ``BarPlayed`` logged.
- **midi**: the same plans as MIDI notes, one track per Ableton role (``music/midi_file.py``).
- **verify**: re-run the deciding actors against the recorded inputs, in the set context ``SetStarted`` logged.
  Every input (bars played, LM answers, control commands...) is published again at its logged position; every
  event replay produces must equal the logged one at the same seq; a logged output replay never produces is a
  divergence too. Bars are re-rendered on the way and their checksums compared.

Both return a ``Verdict``: how much of the log was checked ("N of M"), what is wrong with the log itself, and the
first mismatch. A verdict is *verified* only when the log is whole and nothing differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec
import numpy as np

from bergain_actors.actors.streamer.sinks import WavWriter
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import LogProblem, LogReader
from bergain_actors.core.scenario import Scenario, from_builtins, replace
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.identity import differs
from bergain_actors.music.fingerprint import bar_checksum
from bergain_actors.music.midi_file import Written, write_midi
from bergain_actors.music.pack import SamplePack
from bergain_actors.music.plan import BarPlan
from bergain_actors.music.render import Renderer
from bergain_actors.music.theory import set_theory
from bergain_actors.performance import load_pack, slots_of

SUPERVISION = (ev.ActorCrashed, ev.ActorRestarted, ev.ActorFellBack, ev.ActorSwapped)
"""What the supervisor does about a deciding actor is itself a decision, reproduced on verify."""

COMMAND_ANSWERS = (ev.CommandRejected, ev.StopPlanned)
"""The supervisor's answers to commands: decided from the logged command alone, reproduced on verify."""

DECISIONS = (
    ev.BarPlanned,
    ev.MixerMove,
    ev.PhaseChanged,
    ev.DirectiveActed,
    ev.BrainChanged,
    ev.PhraseDecision,
    ev.ToolResult,
    ev.Directive,
    ev.AbletonOp,
)
"""Event types only deciding actors emit: outputs whatever ``source`` they were logged under."""

Warn = Callable[[str], None]


class Mismatch(msgspec.Struct, frozen=True, kw_only=True):
    """The first place where replay and log disagree."""

    seq: int
    expected: dict[str, Any] | None = None
    """The logged event (comparable form), or None when the log has nothing there."""
    produced: dict[str, Any] | None = None
    """What replay produced instead, or None when it produced nothing."""
    bar: int = -1
    """For audio: the first bar whose rendered audio differs from its logged checksum."""
    detail: str = ""

    def describe(self) -> str:
        def show(data: dict[str, Any] | None) -> str:
            return "nothing" if data is None else msgspec.json.encode(data).decode()

        if self.bar >= 0:
            return f"replay diverged at bar {self.bar} (seq {self.seq}): {self.detail}"
        why = f" ({self.detail})" if self.detail else ""
        head = f"replay diverged at seq {self.seq}{why}"
        return f"{head}\n  expected: {show(self.expected)}\n  produced: {show(self.produced)}"


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """What a replay found: ``done`` of ``total`` units checked, what is wrong with the log, the first mismatch."""

    unit: Literal["events", "bars"]
    done: int
    total: int
    problems: tuple[str, ...] = ()
    """Why the log is incomplete or damaged (empty for a whole log)."""
    mismatch: Mismatch | None = None

    @property
    def complete(self) -> bool:
        return not self.problems and self.done == self.total

    @property
    def verified(self) -> bool:
        """The whole log was replayed and nothing differed."""
        return self.complete and self.mismatch is None

    def count(self) -> str:
        return f"{self.done} of {self.total} {self.unit}"


class Divergence(BaseException):
    """Raised inside replay at the first difference. A BaseException so the supervisor never mistakes it for an
    actor crash while it unwinds the cascade; ``verify`` turns it into the verdict's ``Mismatch``."""

    def __init__(self, seq: int, expected: ev.Event | None, got: ev.Event | None, detail: str = "") -> None:
        self.mismatch = Mismatch(
            seq=seq,
            expected=None if expected is None else ev.comparable(expected),
            produced=None if got is None else ev.comparable(got),
            detail=detail,
        )
        super().__init__(f"diverged at seq {seq}")

    @classmethod
    def of(cls, mismatch: Mismatch) -> Divergence:
        divergence = cls(mismatch.seq, None, None)
        divergence.mismatch = mismatch
        return divergence


class _LogEnds(BaseException):
    """Replay went past where the damaged log can say anything (a gap, a cut): stop checking there."""


# --- audit --------------------------------------------------------------------------------------------------------


class Audit(msgspec.Struct, frozen=True, kw_only=True):
    """One pass over a log: what it holds and what is wrong with it."""

    events: int
    bars: int
    """Bars played, each counted once."""
    expected_bars: int
    """Bars the set played by its own account (``SetEnded``), else the bars it set out to play."""
    started: ev.SetStarted | None
    ended: ev.SetEnded | None
    problems: tuple[str, ...]


MAX_PROBLEMS = 5


def audit(path: Path) -> Audit:
    """Read the whole log once and list what makes it incomplete or damaged."""
    reader = LogReader(path)
    problems: list[str] = []
    last_seq = 0
    next_bar = 0
    events = 0
    started: ev.SetStarted | None = None
    ended: ev.SetEnded | None = None
    for event in reader:
        events += 1
        if event.seq != last_seq + 1 and len(problems) < MAX_PROBLEMS:
            if event.seq <= last_seq:
                problems.append(f"seq {event.seq} appears again after seq {last_seq} (a duplicated record)")
            else:
                gap = event.seq - last_seq - 1
                problems.append(f"seq {last_seq + 1}..{event.seq - 1} missing ({gap} record(s) deleted)")
        last_seq = max(last_seq, event.seq)
        if ended is not None and len(problems) < MAX_PROBLEMS:
            problems.append(f"seq {event.seq}: {type(event).__name__} after SetEnded")
        if isinstance(event, ev.SetStarted) and started is None:
            started = event
        elif isinstance(event, ev.SetEnded):
            ended = event
        elif isinstance(event, ev.BarPlayed):
            if event.bar == next_bar:
                next_bar += 1
            elif len(problems) < MAX_PROBLEMS:
                what = "played again" if event.bar < next_bar else f"played before bar {next_bar}"
                problems.append(f"seq {event.seq}: bar {event.bar} {what}")
    if reader.problem is not None:
        problems.append(reader.problem.describe(path))
    elif ended is None:
        problems.append("the log has no SetEnded: the set was cut off (killed, or the disk filled) or still plays")
    if started is None:
        problems.append("the log has no SetStarted")
    if ended is not None and ended.bars_played != next_bar and not problems:
        problems.append(f"SetEnded says {ended.bars_played} bars were played; the log holds {next_bar}")
    scenario = scenario_of(reader)
    expected = ended.bars_played if ended else started.total_bars if started else scenario.total_bars()
    return Audit(
        events=events,
        bars=next_bar,
        expected_bars=expected,
        started=started,
        ended=ended,
        problems=tuple(problems),
    )


def scenario_of(reader: LogReader, pack: Path | None = None) -> Scenario:
    """The logged scenario, its sample pack found where it is now: ``pack`` if given, else beside the log as it
    was when the set played (a project moved with its logs), else where the set played."""
    scenario = from_builtins(reader.header.resolved, f"{reader.path} (header)")
    if pack is not None:
        return replace(scenario, sample_pack=str(pack.resolve()))
    if reader.header.base_dir:
        moved = replace(scenario, base_dir=str((reader.path.parent / reader.header.base_dir).resolve()))
        if moved.path(moved.sample_pack).is_dir():
            return moved
    return scenario


# --- render -------------------------------------------------------------------------------------------------------


class PlayedPlans:
    """Which plan each bar played: a ``BarPlayed`` names its plan, a held bar is the last plan moved to its own
    bar; with Ableton Link, at the session's tempo its ``LinkBeat`` logged. Bars out of order (a damaged log) are
    skipped, never played twice."""

    def __init__(self) -> None:
        self.plans: dict[int, ev.BarPlanned] = {}
        self.tempos: dict[int, float] = {}
        self.next_bar = 0

    def see(self, event: ev.Event) -> BarPlan | None:
        """The plan ``event`` played when it is the next bar played; None for anything else."""
        if isinstance(event, ev.BarPlanned):
            self.plans[event.seq] = event
            return None
        if isinstance(event, ev.LinkBeat):
            self.tempos[event.bar] = event.tempo
            return None
        if not isinstance(event, ev.BarPlayed) or event.bar != self.next_bar:
            return None
        planned = self.plans.get(event.plan_seq)
        if planned is None:
            return None
        self.next_bar += 1
        for old in [s for s in self.plans if s < event.plan_seq]:
            del self.plans[old]
        plan = msgspec.structs.replace(planned.plan, bar=event.bar) if event.held else planned.plan
        tempo = self.tempos.pop(event.bar, plan.bpm)
        return plan if tempo == plan.bpm else msgspec.structs.replace(plan, bpm=tempo)


def played_plans(reader: LogReader) -> Iterator[BarPlan]:
    """The plans of the bars the speakers took, in the order they took them. Reading stops where the log does."""
    played = PlayedPlans()
    for event in reader:
        plan = played.see(event)
        if plan is not None:
            yield plan


class Playback:
    """Re-renders bars exactly as the streamer played them (see ``PlayedPlans``)."""

    def __init__(self, pack: SamplePack, scenario: Scenario) -> None:
        self.renderer = Renderer(pack, scenario.sample_rate)
        self.renderer.prepare(scenario.bpm, scenario.beats_per_bar)
        self.played = PlayedPlans()

    @property
    def bars(self) -> int:
        return self.played.next_bar

    def see(self, event: ev.Event) -> np.ndarray | None:
        """The audio of ``event`` when it is the next bar played; None for anything else."""
        plan = self.played.see(event)
        return None if plan is None else self.renderer.render(plan)


def audio_mismatch(event: ev.BarPlayed, audio: np.ndarray) -> Mismatch | None:
    """A bar whose re-rendered audio is not what the set played (logs from before checksums are trusted)."""
    if event.checksum < 0:
        return None
    got = bar_checksum(audio)
    if got == event.checksum:
        return None
    detail = f"rendered audio has checksum {got:08x}, the log says {event.checksum:08x}"
    return Mismatch(seq=event.seq, bar=event.bar, detail=detail)


def render(log_path: Path, wav_path: Path, warn: Warn, pack: Path | None = None) -> Verdict:
    """Re-render a set's audio from its log into ``wav_path``, bar by bar, comparing each bar's checksum."""
    found = audit(log_path)
    reader = LogReader(log_path)
    scenario = scenario_of(reader, pack)
    playback = Playback(_pack_for(reader, scenario, warn), scenario)
    mismatch: Mismatch | None = None
    wav = WavWriter(wav_path, scenario.sample_rate)
    try:
        for event in reader:
            audio = playback.see(event)
            if audio is None:
                continue
            assert isinstance(event, ev.BarPlayed)
            if mismatch is None:
                mismatch = audio_mismatch(event, audio)
            wav.write(audio)
    finally:
        wav.close()
    return Verdict(
        unit="bars", done=playback.bars, total=found.expected_bars, problems=found.problems, mismatch=mismatch
    )


def export_midi(log_path: Path, out: BinaryIO) -> tuple[Written, LogProblem | None]:
    """Write a set as a MIDI file: the plans of the bars played (holds included, as ``render``) in the set's
    theory, which is a function of the logged scenario's seed and key alone. Opens no socket, reads no pack."""
    reader = LogReader(log_path)
    scenario = scenario_of(reader)
    written = write_midi(played_plans(reader), set_theory(scenario.seed, scenario.key), out, name=scenario.name)
    return written, reader.problem


def _pack_for(reader: LogReader, scenario: Scenario, warn: Warn) -> SamplePack:
    """The pack to replay with; warns when it, or the code, is not what played the set."""
    other = differs(reader.header.package_version, reader.header.source_hash)
    if other:
        warn(f"this log was written by {other}: replay may differ")
    pack = load_pack(scenario)
    if pack.content_hash != reader.header.pack_hash:
        warn(
            f"the sample pack at {scenario.path(scenario.sample_pack)} is not the one this set was played with"
            f" (hash {pack.content_hash[:12]}, logged {reader.header.pack_hash[:12]}): replay may differ"
        )
    return pack


# --- verify -------------------------------------------------------------------------------------------------------


class _Verifier:
    """Feeds recorded inputs, checks everything replay produces, with a small look-ahead window over the log."""

    def __init__(self, reader: LogReader, is_output: Callable[[ev.Event], bool], whole: bool) -> None:
        self._events = iter(reader)
        self._read_to = 0
        self._ahead: dict[int, ev.Event] = {}
        self._is_output = is_output
        self._whole = whole
        self._feeding = False
        self.checked = 0

    def logged(self, seq: int) -> ev.Event | None:
        while seq not in self._ahead and self._read_to < seq:
            event = next(self._events, None)
            if event is None:
                return None
            self._read_to = max(self._read_to, event.seq)
            self._ahead.setdefault(event.seq, event)
        return self._ahead.get(seq)

    def tap(self, event: ev.Event) -> None:
        """Every published event: the input being fed passes; anything else was produced and must match."""
        if self._feeding:
            self._feeding = False
            self.checked += 1
            return
        expected = self.logged(event.seq)
        if expected is None:
            if not self._whole:
                raise _LogEnds
            raise Divergence(event.seq, None, event)
        if not self._is_output(expected):
            raise Divergence(event.seq, expected, event, "replay produced an event where the log has an input")
        if ev.comparable(expected) != ev.comparable(event):
            raise Divergence(event.seq, expected, event)
        self.checked += 1
        del self._ahead[event.seq]

    def inputs(self, bus: Bus) -> Iterator[ev.Event]:
        """Logged inputs, in order; a logged output not produced by then was never produced: a divergence."""
        while True:
            seq = bus.seq + 1
            event = self.logged(seq)
            if event is None:
                return
            if self._is_output(event):
                raise Divergence(seq, event, None, "the log has an output replay never produced")
            del self._ahead[seq]
            self._feeding = True
            yield event


def verify(
    log_path: Path, warn: Warn, override: Callable[[Supervisor], None] | None = None, pack: Path | None = None
) -> Verdict:
    """Re-run the deciding actors of a logged set in the context it logged (``SetStarted``). ``override`` may
    change actors before replay starts (tests)."""
    found = audit(log_path)
    if found.started is None:
        return Verdict(unit="events", done=0, total=found.events, problems=found.problems)
    reader = LogReader(log_path)
    scenario = scenario_of(reader, pack)
    samples = _pack_for(reader, scenario, warn)
    supervisor, deciding = _replay_supervisor(scenario, samples, found.started)
    if override is not None:
        override(supervisor)
    for slot in deciding:
        supervisor.bus.attach(slot, supervisor.actors[slot], registry.SLOT_ORDER)

    def is_output(event: ev.Event) -> bool:
        if isinstance(event, SUPERVISION):
            return event.slot in deciding
        if isinstance(event, COMMAND_ANSWERS):
            return event.source == "supervisor"
        return isinstance(event, DECISIONS) or event.source in deciding

    checker = _Verifier(reader, is_output, whole=not found.problems)
    playback = Playback(samples, scenario)

    def listen(event: ev.Event) -> None:
        audio = playback.see(event)
        if audio is not None and isinstance(event, ev.BarPlayed):
            differs = audio_mismatch(event, audio)
            if differs is not None:
                raise Divergence.of(differs)

    bus = supervisor.bus
    bus.taps += [checker.tap, listen]
    mismatch: Mismatch | None = None
    try:
        for event in checker.inputs(bus):
            bus.publish(event)
        for actor in supervisor.actors.values():  # actors with work outside the log's order (the rlm program)
            finished = getattr(actor, "replay_finished", None)
            late = finished() if finished is not None else None
            if late is not None:
                raise Divergence(*late)
    except Divergence as exc:
        mismatch = exc.mismatch
    except _LogEnds:
        pass
    return Verdict(unit="events", done=checker.checked, total=found.events, problems=found.problems, mismatch=mismatch)


def _replay_supervisor(scenario: Scenario, pack: SamplePack, started: ev.SetStarted) -> tuple[Supervisor, set[str]]:
    """A supervisor holding only the deciding actors, in the set context the log recorded: every actor it builds
    later (swap, restart, fallback) sees the same context the live one did."""
    set_ctx = SetContext(scenario, fast=started.fast, total_bars=started.total_bars, pack=pack)
    set_ctx.live = False
    bus = Bus(None, wall_clock=False)
    supervisor = Supervisor(bus, set_ctx, [])
    supervisor.set_slots = slots_of(scenario)
    deciding = [slot for slot in slots_of(scenario) if _is_deciding(supervisor, slot)]
    supervisor.slots = tuple(deciding)
    supervisor.create_all()
    return supervisor, set(deciding)


def _is_deciding(supervisor: Supervisor, slot: str) -> bool:
    kind = supervisor.config(slot).kind
    try:
        cls: Any = registry.factory(slot, kind)
    except LookupError:
        return False
    return bool(getattr(cls, "deciding", False))
