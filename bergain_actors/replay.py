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

import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec
import numpy as np
import soundfile as sf

from bergain_actors.actors.streamer.sinks import WavBehind, WavWriter, pcm16
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import LogError, LogProblem, LogReader
from bergain_actors.core.scenario import PACKAGE_ROOT, ProviderConfig, Scenario, from_builtins, replace
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
    ev.DirectiveMoved,
    ev.CriticChanged,
    ev.SteerActed,
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
    contradiction: bool = False
    """The log disagrees with itself (a forged or edited record), not with the code replaying it."""

    def describe(self) -> str:
        def show(data: dict[str, Any] | None) -> str:
            return "nothing" if data is None else msgspec.json.encode(data).decode()

        if self.contradiction:
            where = "its header" if self.seq == 0 else f"seq {self.seq}"
            return f"the log contradicts itself at {where}: {self.detail}"
        if self.seq == 0:
            return f"replay cannot reproduce this set: {self.detail}"
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
    damaged: bool = False
    """The log is torn or corrupt: ``total`` events are only the part that could be read."""

    @property
    def complete(self) -> bool:
        return not self.problems and self.done == self.total

    @property
    def verified(self) -> bool:
        """The whole log was replayed and nothing differed."""
        return self.complete and self.mismatch is None

    def count(self) -> str:
        readable = " readable" if self.damaged and self.unit == "events" else ""
        return f"{self.done} of {self.total}{readable} {self.unit}"


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
    kinds: tuple[tuple[int, str, str], ...] = ()
    """(seq, slot, kind) of every actor the set started, swapped in or fell back to."""
    damaged: bool = False
    """Reading stopped at a torn or corrupt record: more was written than could be read."""
    read_to: int = 0
    """Where its records end: the passes after it read no further, so a log its set still writes gives no more."""
    checksums: bool = True
    """Every bar must carry its audio checksum: the log is of format 2 or later, or any of its bars carries one (a
    log claiming format 1 to escape the check still has them). Only a true format-1 log has none to compare."""


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
    kinds: list[tuple[int, str, str]] = []
    checksums = False
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
        elif isinstance(event, ev.ActorStarted | ev.ActorSwapped | ev.ActorFellBack):
            kinds.append((event.seq, event.slot, event.kind if isinstance(event, ev.ActorStarted) else event.new))
        elif isinstance(event, ev.BarPlayed):
            checksums = checksums or event.checksum >= 0
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
    if ended is not None and ended.reason == "error":
        problems.append(f"the set stopped in error after {next_bar} bars (a full disk, or a part that failed)")
    scenario = scenario_of(reader)
    expected = ended.bars_played if ended else started.total_bars if started else scenario.total_bars()
    return Audit(
        events=events,
        bars=next_bar,
        expected_bars=expected,
        started=started,
        ended=ended,
        problems=tuple(problems),
        kinds=tuple(kinds),
        damaged=reader.problem is not None,
        read_to=reader.good_bytes,
        checksums=checksums or reader.written_format >= CHECKSUM_FORMAT,
    )


def located(log: Path, problem: str) -> str:
    """``problem`` said of ``log``, its path once (a reader's problems name it already)."""
    return problem if problem.startswith(f"{log}:") else f"{log}: {problem}"


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
    skipped, never played twice. A bar the log contradicts itself about (a plan it does not hold, or not the bar's
    own when it is not held, a ``held`` flag without the streamer's ``BarHeld``) is not played: it is listed in
    ``wrong`` and the bars after it are played on, so one forged bar never ends the audio check."""

    def __init__(self) -> None:
        self.plans: dict[int, ev.BarPlanned] = {}
        self.tempos: dict[int, float] = {}
        self.held: dict[int, int] = {}
        """Bar → the plan seq the streamer said it would hold (``BarHeld``)."""
        self.next_bar = 0
        self.wrong: list[Mismatch] = []

    def see(self, event: ev.Event) -> BarPlan | None:
        """The plan ``event`` played when it is the next bar played; None for anything else."""
        if isinstance(event, ev.BarPlanned):
            self.plans[event.seq] = event
            return None
        if isinstance(event, ev.LinkBeat):
            self.tempos[event.bar] = event.tempo
            return None
        if isinstance(event, ev.BarHeld):
            self.held[event.bar] = event.plan_seq
            return None
        if not isinstance(event, ev.BarPlayed) or event.bar != self.next_bar:
            return None
        self.next_bar += 1
        planned = self.plans.get(event.plan_seq)
        problem = _unplayable(event, planned, self.held.pop(event.bar, None))
        if problem:
            self.wrong.append(Mismatch(seq=event.seq, bar=event.bar, detail=problem, contradiction=True))
            return None
        assert planned is not None
        for old in [s for s in self.plans if s < event.plan_seq]:
            del self.plans[old]
        plan = msgspec.structs.replace(planned.plan, bar=event.bar) if event.held else planned.plan
        tempo = self.tempos.pop(event.bar, plan.bpm)
        return plan if tempo == plan.bpm else msgspec.structs.replace(plan, bpm=tempo)


def _unplayable(event: ev.BarPlayed, planned: ev.BarPlanned | None, held_seq: int | None) -> str:
    """Why the log's own records say ``event`` cannot have played as logged; "" when they agree."""
    if planned is None:
        return (
            f"bar {event.bar} names plan seq {event.plan_seq}, which is no plan the log holds for it"
            " (unknown, or older than a plan already played)"
        )
    if event.held and held_seq != event.plan_seq:
        return (
            f"bar {event.bar} is marked held, but the streamer logged no BarHeld for it with plan seq {event.plan_seq}"
        )
    if not event.held and held_seq is not None:
        return f"bar {event.bar} is not marked held, but the streamer logged a BarHeld for it"
    if not event.held and planned.plan.bar != event.bar:
        return f"bar {event.bar} plays the plan of bar {planned.plan.bar} (seq {event.plan_seq}) without being held"
    return ""


def played_plans(reader: LogReader) -> Iterator[BarPlan]:
    """The plans of the bars the speakers took, in the order they took them. Reading stops where the log does."""
    played = PlayedPlans()
    for event in reader:
        plan = played.see(event)
        if plan is not None:
            yield plan


class Playback:
    """Re-renders bars exactly as the streamer played them (see ``PlayedPlans``) and checks each against the
    audio checksum its ``BarPlayed`` logged."""

    def __init__(self, pack: SamplePack, scenario: Scenario, checksums: bool) -> None:
        self.renderer = Renderer(pack, scenario.sample_rate)
        self.renderer.prepare(scenario.bpm, scenario.beats_per_bar)
        self.played = PlayedPlans()
        self.checksums = checksums

    @property
    def bars(self) -> int:
        return self.played.next_bar

    def see(self, event: ev.Event) -> tuple[np.ndarray | None, Mismatch | None]:
        """For the next bar played: its audio (None when the log cannot say what it played) and what is wrong
        with it, if anything. (None, None) for every other event."""
        wrong = len(self.played.wrong)
        plan = self.played.see(event)
        if len(self.played.wrong) > wrong:
            return None, self.played.wrong[-1]
        if plan is None:
            return None, None
        assert isinstance(event, ev.BarPlayed)
        audio = self.renderer.render(plan)
        return audio, audio_mismatch(event, audio, self.checksums)


CHECKSUM_FORMAT = 2
"""The log format from which every ``BarPlayed`` carries its audio checksum: earlier bars have none to compare."""
UNCHECKED = "this format-1 log's bars carry no audio checksum: their audio is rendered, not checked"


def audio_mismatch(event: ev.BarPlayed, audio: np.ndarray, required: bool) -> Mismatch | None:
    """A bar whose re-rendered audio is not what the set played. Only a format-1 log may lack checksums
    (``required`` False): in any other a bar without its checksum is a record edited to escape the check."""
    if event.checksum < 0:
        if not required:
            return None
        detail = f"bar {event.bar} carries no audio checksum; every bar of this log must carry one"
        return Mismatch(seq=event.seq, bar=event.bar, detail=detail, contradiction=True)
    got = bar_checksum(audio)
    if got == event.checksum:
        return None
    detail = f"rendered audio has checksum {got:08x}, the log says {event.checksum:08x}"
    return Mismatch(seq=event.seq, bar=event.bar, detail=detail)


def render(log_path: Path, wav_path: Path, warn: Warn, pack: Path | None = None) -> Verdict:
    """Re-render a set's audio from its log into ``wav_path``, bar by bar, comparing each bar's checksum."""
    found = audit(log_path)
    reader = LogReader(log_path, end=found.read_to)
    scenario = scenario_of(reader, pack)
    samples, mismatch = _pack_for(reader, scenario, warn, pack)
    mismatch = mismatch or header_contradiction(reader, found.started)
    if not found.checksums:
        warn(UNCHECKED)
    playback = Playback(samples, scenario, found.checksums)
    wav = WavBehind(WavWriter(wav_path, scenario.sample_rate))
    try:
        for event in reader:
            audio, wrong = playback.see(event)
            mismatch = mismatch or wrong
            if audio is not None:
                wav.write(audio)
    finally:
        wav.close()
    if wav.failure is not None:
        raise wav.failure
    return Verdict(
        unit="bars",
        done=playback.bars,
        total=found.expected_bars,
        problems=found.problems,
        mismatch=mismatch,
        damaged=found.damaged,
    )


def export_midi(log_path: Path, out: BinaryIO) -> tuple[Written, LogProblem | None]:
    """Write a set as a MIDI file: the plans of the bars played (holds included, as ``render``) in the set's
    theory, which is a function of the logged scenario's seed and key alone. Opens no socket, reads no pack."""
    reader = LogReader(log_path)
    scenario = scenario_of(reader)
    written = write_midi(played_plans(reader), set_theory(scenario.seed, scenario.key), out, name=scenario.name)
    return written, reader.problem


def _pack_for(
    reader: LogReader, scenario: Scenario, warn: Warn, chosen: Path | None
) -> tuple[SamplePack, Mismatch | None]:
    """The pack to replay with, and a mismatch when it is not the one that played the set and nobody chose it on
    purpose (``--pack``: then a warning). A format-1 log names only the folder the pack had when it played; when
    that is gone, the shipped pack is used if it is the very same pack (its content hash is the logged one)."""
    other = differs(reader.header.package_version, reader.header.source_hash)
    if other:
        warn(f"this log was written by {other}: replay may differ")
    elif not reader.header.source_hash:
        version = reader.written_format
        warn(f"this log (format {version}) does not record which code wrote it: a difference may be the code's")
    try:
        pack = load_pack(scenario)
    except FileNotFoundError:
        shipped = replace(scenario, sample_pack=str(PACKAGE_ROOT / "sample_pack"))
        if chosen is not None or reader.header.base_dir or load_pack(shipped).content_hash != reader.header.pack_hash:
            raise
        warn(f"the sample pack is not at {scenario.path(scenario.sample_pack)}; the shipped pack is the same one")
        pack = load_pack(shipped)
    if pack.content_hash == reader.header.pack_hash:
        return pack, None
    why = (
        f"the sample pack at {pack.root} is not the one this set was played with"
        f" (hash {pack.content_hash[:12]}, logged {reader.header.pack_hash[:12]})"
    )
    if chosen is not None:
        warn(f"{why}: replaying with it as --pack asks; bars may differ")
        return pack, None
    return pack, Mismatch(seq=0, detail=f"{why}; pass --pack DIR to replay with another pack on purpose")


OVERRIDABLE = frozenset(
    {"seed", "bars", "minutes", "sample_rate", "streamer", "base_dir", "conductor", "critic", "router"}
)
"""Scenario keys the command line (``--seed``, ``--bars``...) or a what-if may set apart from the scenario's text."""


def header_contradiction(reader: LogReader, started: ev.SetStarted | None) -> Mismatch | None:
    """Whether the header disagrees with itself or with the set it announces: its seed and rate against the
    resolved scenario (what replay runs), the scenario text against it (but for what flags may override), and the
    logged ``SetStarted`` against the one that scenario announces."""
    header = reader.header
    scenario = from_builtins(header.resolved, f"{reader.path} (header)")
    why = ""
    if header.seed != scenario.seed:
        why = f"the header says seed {header.seed}, but the scenario it resolved to has seed {scenario.seed}"
    elif header.sample_rate != scenario.sample_rate:
        why = f"the header says sample rate {header.sample_rate}; the scenario it resolved to, {scenario.sample_rate}"
    elif header.scenario_text:
        why = _text_differs(header.scenario_text, scenario)
    if not why and started is not None:
        announced = SetContext(scenario, fast=started.fast, total_bars=started.total_bars).started()
        logged = msgspec.structs.replace(started, seq=0, source="", wall=0.0, cause=-1)
        fields = [f for f in announced.__struct_fields__ if getattr(announced, f) != getattr(logged, f)]
        if fields:
            why = f"SetStarted (seq {started.seq}) is not the set its scenario announces: {', '.join(fields)} differ"
    return Mismatch(seq=0, detail=why, contradiction=True) if why else None


def _text_differs(text: str, resolved: Scenario) -> str:
    """The keys the scenario text sets to other values than the resolved scenario has (but for those flags may
    override): only what the text says, so defaults that changed between versions never count."""
    try:
        written = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return f"the header's scenario_text does not parse ({exc})"
    plain = resolved.to_builtins()
    keys: list[str] = []
    for key, value in written.items():
        if key in OVERRIDABLE:
            continue
        if isinstance(value, dict) and isinstance(plain.get(key), dict):
            keys += [f"{key}.{k}" for k, v in value.items() if plain[key].get(k) != v]
        elif plain.get(key) != value:
            keys.append(key)
    return f"the header's scenario_text and resolved scenario differ in {', '.join(keys)}" if keys else ""


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
            if not event.source:
                detail = f"a {type(event).__name__} with no source: no part of the set published it as an input"
                raise Divergence.of(Mismatch(seq=seq, detail=detail, contradiction=True))
            del self._ahead[seq]
            self._feeding = True
            yield event


class InputCheck:
    """What verify can know of recorded inputs it cannot recompute. An actor started is of the kind the scenario
    names for its slot. An LM answer answers a request the log holds, comes from a provider the set could ask,
    and (but for a scripted provider, whose counts estimate its script) counts no more tokens than were asked
    for."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.providers: dict[str, ProviderConfig | None] = {p.name: p for p in scenario.router.providers}
        self.requests: dict[str, ev.LMRequest] = {}

    def see(self, event: ev.Event) -> Mismatch | None:
        match event:
            case ev.LMRequest():
                self.requests[event.request_id] = event
            case ev.ProviderHealth():
                for name in event.states:
                    self.providers.setdefault(name, None)
            case ev.ProviderControl(op="add"):  # a new config is not checked further than its token cap
                if event.config or event.provider not in self.providers:
                    self.providers[event.provider] = None
            case ev.LMResponse():
                why = self._wrong(event)
                return Mismatch(seq=event.seq, detail=why, contradiction=True) if why else None
            case ev.ActorStarted() if event.kind != getattr(getattr(self.scenario, event.slot, None), "kind", None):
                why = f"the {event.slot} started as {event.kind!r}; the scenario names another kind for it"
                return Mismatch(seq=event.seq, detail=why, contradiction=True)
        return None

    def _wrong(self, answer: ev.LMResponse) -> str:
        request = self.requests.get(answer.request_id)
        if request is None:
            return f"an LMResponse to request {answer.request_id!r}, which the log never made"
        if answer.provider not in self.providers:
            return f"an LMResponse from provider {answer.provider!r}, which the set had not got"
        config = self.providers[answer.provider]
        if config is not None and config.kind == "scripted":  # its counts are estimates of its script, unbounded
            return ""
        tokens = (answer.prompt_tokens, answer.completion_tokens)
        cap = min(request.max_tokens, config.max_tokens) if config is not None else request.max_tokens
        if min(tokens) < 0 or answer.completion_tokens > cap:
            return f"an LMResponse with {tokens} tokens, though at most {cap} were asked for"
        return ""


class WavCheck:
    """``--wav-check``: a set's WAV against the bars replay renders, bar by bar, as the 16-bit samples the set's
    ``WavWriter`` wrote. The logged checksums cover the audio before it reaches the WAV; this covers the file."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.path = path
        try:
            self.file = sf.SoundFile(path)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise LogError(f"--wav-check {path}: not a readable WAV ({exc})") from None
        self.sample_rate = sample_rate

    def bar(self, event: ev.BarPlayed, audio: np.ndarray) -> Mismatch | None:
        """Whether the WAV's next bar is ``audio`` (None) or not (the mismatch naming the bar)."""
        if self.file.samplerate != self.sample_rate or self.file.channels != audio.shape[1]:
            why = f"{self.file.samplerate} Hz, {self.file.channels} channels; the set is {self.sample_rate} Hz stereo"
            return Mismatch(seq=event.seq, bar=event.bar, detail=f"{self.path} is {why}")
        written = self.file.read(len(audio), dtype="int16", always_2d=True)
        if len(written) < len(audio):
            detail = f"{self.path} ends before bar {event.bar} is whole ({len(written)} of {len(audio)} frames)"
            return Mismatch(seq=event.seq, bar=event.bar, detail=detail)
        if not np.array_equal(written, pcm16(audio)):
            return Mismatch(seq=event.seq, bar=event.bar, detail=f"{self.path} holds other audio for this bar")
        return None

    def end(self, seq: int, bars: int) -> Mismatch | None:
        """After the last bar: the WAV must hold nothing more."""
        left = self.file.frames - self.file.tell()
        self.file.close()
        if left <= 0:
            return None
        return Mismatch(seq=seq, bar=bars, detail=f"{self.path} holds {left} frames after the set's last bar")


def verify(
    log_path: Path,
    warn: Warn,
    override: Callable[[Supervisor], None] | None = None,
    pack: Path | None = None,
    wav: Path | None = None,
) -> Verdict:
    """Re-run the deciding actors of a logged set in the context it logged (``SetStarted``); with ``wav``, also
    check that file holds exactly the bars re-rendered. ``override`` may change actors before replay starts
    (tests)."""
    found = audit(log_path)
    verdict = Verdict(unit="events", done=0, total=found.events, problems=found.problems, damaged=found.damaged)
    if found.started is None:
        return verdict
    reader = LogReader(log_path, end=found.read_to)
    scenario = scenario_of(reader, pack)
    samples, mismatch = _pack_for(reader, scenario, warn, pack)
    mismatch = mismatch or header_contradiction(reader, found.started) or unknown_kind(found.kinds)
    if mismatch is not None:
        return msgspec.structs.replace(verdict, mismatch=mismatch)
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
    if not found.checksums:
        warn(UNCHECKED)
    playback = Playback(samples, scenario, found.checksums)
    wav_check = WavCheck(wav, scenario.sample_rate) if wav is not None else None
    inputs = InputCheck(scenario)

    def listen(event: ev.Event) -> None:
        audio, wrong = playback.see(event)
        wrong = wrong or inputs.see(event)
        if wrong is None and audio is not None and wav_check is not None:
            assert isinstance(event, ev.BarPlayed)
            wrong = wav_check.bar(event, audio)
        if wrong is not None:
            raise Divergence.of(wrong)

    bus = supervisor.bus
    bus.taps += [checker.tap, listen]
    try:
        for event in checker.inputs(bus):
            bus.publish(event)
        for actor in supervisor.actors.values():  # actors with work outside the log's order (the rlm program)
            finished = getattr(actor, "replay_finished", None)
            late = finished() if finished is not None else None
            if late is not None:
                raise Divergence(*late)
        if wav_check is not None:
            mismatch = wav_check.end(bus.seq, playback.bars)
    except Divergence as exc:
        mismatch = exc.mismatch
    except _LogEnds:
        pass
    return msgspec.structs.replace(verdict, done=checker.checked, mismatch=mismatch)


def unknown_kind(kinds: tuple[tuple[int, str, str], ...]) -> Mismatch | None:
    """The first actor kind the log says played (seq, slot, kind) that this code does not know: its decisions
    cannot be re-run, and that is the reason to give, not the first decision missing because of it."""
    for seq, slot, kind in kinds:
        try:
            registry.factory(slot, kind)
        except LookupError as exc:
            detail = f"seq {seq}: the {slot} played as kind {kind!r}, which this code does not know ({exc})"
            return Mismatch(seq=0, detail=detail)
    return None


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
