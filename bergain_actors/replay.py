"""Replaying a logged set.

- **render**: re-render the audio from the logged plans, in the order the streamer played them (holds included):
  the WAV comes out bit-identical.
- **midi**: the same plans as MIDI notes, one track per Ableton role (``music/midi_file.py``).
- **verify**: re-run the deciding actors against the recorded inputs. Every event from outside (bars played, LM
  answers, control commands) is published again at its logged position; every event the deciding actors emit
  must equal the logged one at the same seq. The first difference is reported with its seq.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from bergain_actors.actors.streamer.sinks import WavWriter
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import LogProblem, LogReader
from bergain_actors.core.scenario import Scenario, from_builtins
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.music.midi_file import Written, write_midi
from bergain_actors.music.plan import BarPlan
from bergain_actors.music.render import Renderer
from bergain_actors.music.theory import set_theory
from bergain_actors.performance import load_pack, slots_of

SUPERVISION = (ev.ActorCrashed, ev.ActorRestarted, ev.ActorFellBack, ev.ActorSwapped)
"""What the supervisor does about a deciding actor's crash is itself a decision, reproduced on verify."""

COMMAND_ANSWERS = (ev.CommandRejected, ev.StopPlanned)
"""The supervisor's answers to commands: decided from the logged command alone, reproduced on verify."""


class Divergence(BaseException):
    """Replay produced something other than the log: where, what was logged, what came out. A BaseException so
    the supervisor never mistakes it for an actor crash while it unwinds the cascade."""

    def __init__(self, seq: int, expected: ev.Event | None, got: ev.Event | None) -> None:
        self.seq, self.expected, self.got = seq, expected, got
        super().__init__(f"diverged at seq {seq}")

    def report(self) -> str:
        def show(event: ev.Event | None) -> str:
            return "nothing" if event is None else msgspec.json.encode(ev.comparable(event)).decode()

        return f"replay diverged at seq {self.seq}\n  expected: {show(self.expected)}\n  produced: {show(self.got)}"


def scenario_of(reader: LogReader) -> Scenario:
    return from_builtins(reader.header.resolved, f"{reader.path} (header)")


def played_plans(reader: LogReader) -> Iterator[BarPlan]:
    """The plans of the bars the speakers took, in the order they took them: a held bar is its last plan again,
    at the held bar's number. Reading stops where the log does (see ``reader.problem``)."""
    plans: dict[int, ev.BarPlanned] = {}
    for event in reader:
        if isinstance(event, ev.BarPlanned):
            plans[event.seq] = event
        elif isinstance(event, ev.BarPlayed):
            planned = plans[event.plan_seq]
            yield msgspec.structs.replace(planned.plan, bar=event.bar) if event.held else planned.plan
            for old in [s for s in plans if s < event.plan_seq]:
                del plans[old]


def render(log_path: Path, wav_path: Path, warn: Callable[[str], None]) -> tuple[int, LogProblem | None]:
    """Re-render a set's audio from its log. Returns the bars written and the log's problem, if any."""
    reader = LogReader(log_path)
    scenario = scenario_of(reader)
    pack = _pack_for(reader, scenario, warn)
    renderer = Renderer(pack, scenario.sample_rate)
    wav = WavWriter(wav_path, scenario.sample_rate)
    bars = 0
    try:
        for plan in played_plans(reader):
            wav.write(renderer.render(plan))
            bars += 1
    finally:
        wav.close()
    return bars, reader.problem


def export_midi(log_path: Path, out: BinaryIO) -> tuple[Written, LogProblem | None]:
    """Write a set as a MIDI file: the plans of the bars played (holds included, as ``render``) in the set's
    theory, which is a function of the logged scenario's seed and key alone. Opens no socket, reads no pack."""
    reader = LogReader(log_path)
    scenario = scenario_of(reader)
    written = write_midi(played_plans(reader), set_theory(scenario.seed, scenario.key), out, name=scenario.name)
    return written, reader.problem


def _pack_for(reader: LogReader, scenario: Scenario, warn: Callable[[str], None]) -> Any:
    pack = load_pack(scenario)
    if pack.content_hash != reader.header.pack_hash:
        warn(
            f"the sample pack at {scenario.path(scenario.sample_pack)} is not the one this set was played with"
            f" (hash {pack.content_hash[:12]}, logged {reader.header.pack_hash[:12]}): replay may differ"
        )
    return pack


class _Verifier:
    """Feeds recorded inputs, checks produced events, with a small look-ahead window over the log."""

    def __init__(self, reader: LogReader, reproduced: Callable[[ev.Event], bool]) -> None:
        self._reader = reader
        self._events = iter(reader)
        self._ahead: dict[int, ev.Event] = {}
        self._reproduced = reproduced
        self.checked = 0

    def logged(self, seq: int) -> ev.Event | None:
        while seq not in self._ahead:
            event = next(self._events, None)
            if event is None:
                return None
            self._ahead[event.seq] = event
        return self._ahead[seq]

    def check(self, produced: ev.Event) -> None:
        expected = self.logged(produced.seq)
        if expected is None and self._reader.problem is not None:
            return  # the log was cut here: there is nothing left to compare with
        if expected is None or not self._reproduced(expected) or ev.comparable(expected) != ev.comparable(produced):
            raise Divergence(produced.seq, expected, produced)
        self.checked += 1
        del self._ahead[produced.seq]

    def inputs(self, bus: Bus) -> Iterator[ev.Event]:
        """Logged events from outside, in order; a deciding actor's event not reproduced by then diverges."""
        seq = bus.seq + 1
        while True:
            event = self.logged(seq)
            if event is None:
                return
            if self._reproduced(event):
                raise Divergence(event.seq, event, None)
            del self._ahead[seq]
            yield event
            seq = bus.seq + 1


def verify(
    log_path: Path, warn: Callable[[str], None], override: Callable[[Supervisor], None] | None = None
) -> tuple[int, LogProblem | None]:
    """Re-run the deciding actors of a logged set; raises ``Divergence`` at the first difference. Returns the
    number of events checked. ``override`` may change actors before replay starts (what-if, tests)."""
    reader = LogReader(log_path)
    scenario = scenario_of(reader)
    pack = _pack_for(reader, scenario, warn)
    set_ctx = SetContext(scenario, fast=False, total_bars=scenario.total_bars(), pack=pack)
    set_ctx.live = False
    bus = Bus(None, wall_clock=False)
    supervisor = Supervisor(bus, set_ctx, [])
    supervisor.set_slots = slots_of(scenario)
    deciding = [slot for slot in slots_of(scenario) if _is_deciding(supervisor, slot)]
    supervisor.slots = tuple(deciding)
    supervisor.create_all()
    if override is not None:
        override(supervisor)
    for slot in deciding:
        supervisor.bus.attach(slot, supervisor.actors[slot], registry.SLOT_ORDER)

    def reproduced(event: ev.Event) -> bool:
        if event.source in deciding:
            return True
        if isinstance(event, COMMAND_ANSWERS):
            return event.source == "supervisor"
        return isinstance(event, SUPERVISION) and event.slot in deciding

    checker = _Verifier(reader, reproduced)
    bus.taps.append(lambda e: checker.check(e) if reproduced(e) else None)
    count = 0
    for event in checker.inputs(bus):
        bus.publish(event)
        count += 1
    for actor in supervisor.actors.values():  # actors with work outside the log's order (the rlm program)
        finished = getattr(actor, "replay_finished", None)
        mismatch = finished() if finished is not None else None
        if mismatch is not None:
            raise Divergence(*mismatch)
    return count + checker.checked, reader.problem


def _is_deciding(supervisor: Supervisor, slot: str) -> bool:

    kind = supervisor.config(slot).kind
    try:
        cls: Any = registry.factory(slot, kind)
    except LookupError:
        return False
    return bool(getattr(cls, "deciding", False))
