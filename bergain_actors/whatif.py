"""What-if replay: play a logged set again with another brain or critic, from the same recorded inputs, past the
first divergence, and say what changed musically.

The new set is a real set (a new log and WAV, itself verifiable), played offline: the same scenario and seed with
the swapped kinds, LM answers served in their logged order per purpose by a scripted provider (once each: when
they run out the brain steps down, as it would with its LM gone; a failed request gets an answer that is not JSON,
so a request for JSON fails again), and the person's commands typed again after the bar they followed.
``musical_diff`` then compares the two sets bar by bar and phrase by phrase. A swapped-in kind that did not decide
(its LM had no answer to give in replay, it kept crashing) is named with the bars another kind decided instead:
"no divergence" must never pass a fallback off as the brain that was asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
import trio

from bergain_actors.actors.streamer.sinks import OfflineSink, Played
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import LogReader
from bergain_actors.core.scenario import RouterConfig, Scenario, replace
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.music.plan import BarPlan
from bergain_actors.performance import perform, set_paths
from bergain_actors.replay import audit, located, played_plans, scenario_of

SWAPPABLE = ("conductor", "critic")


class WhatIfError(ValueError):
    """A what-if that cannot be played as asked; the message is one line for the user."""


class IncompleteLog(WhatIfError):
    """The log to play again is cut short or damaged: its recorded inputs end early, so a what-if of it would count
    the bars it lacks as divergence (exit 4, as for replay)."""


class PhraseSide(msgspec.Struct, frozen=True):
    """One phrase of one set: the roles heard in it and its mean energy."""

    roles: tuple[str, ...]
    energy: float


class PhraseDiff(msgspec.Struct, frozen=True):
    first_bar: int
    bars: int
    original: PhraseSide
    what_if: PhraseSide


class StandIn(msgspec.Struct, frozen=True):
    """Bars of the what-if that the kind asked for did not decide: another kind did (a fallback, a command)."""

    slot: str
    asked: str
    kind: str
    first_bar: int
    last_bar: int
    reason: str
    in_original: bool
    """The original set had ``kind`` take over these bars too (not merely start with it)."""

    @property
    def bars(self) -> int:
        return self.last_bar - self.first_bar + 1

    def describe(self) -> str:
        also = ", as in the original" if self.in_original else ""
        bars = f"bar {self.first_bar}" if self.bars == 1 else f"bars {self.first_bar}-{self.last_bar}"
        return f"{self.kind} decided {bars} ({self.reason}){also}"


class MusicalDiff(msgspec.Struct, frozen=True):
    """How the what-if set differs from the original, bar by bar and phrase by phrase."""

    first_divergent_bar: int
    """-1 when every bar played the same plan."""
    differing_bars: int
    bars_original: int
    bars_what_if: int
    phrases: tuple[PhraseDiff, ...]
    stand_ins: tuple[StandIn, ...] = ()
    """Where a swapped slot's asked kind did not decide, in bar order."""
    rejected: tuple[str, ...] = ()
    """The original's commands the what-if refused (one line each): their effect is missing from the what-if."""

    def not_decided(self) -> list[str]:
        """One line per swapped slot whose asked kind did not decide every bar of the what-if."""
        slots = {(s.slot, s.asked): 0 for s in self.stand_ins}
        for stand_in in self.stand_ins:
            slots[stand_in.slot, stand_in.asked] += stand_in.bars
        return [
            f"{slot}={asked} did not decide {bars} of {self.bars_what_if} bars" for (slot, asked), bars in slots.items()
        ]

    def lines(self) -> list[str]:
        if self.first_divergent_bar < 0:
            head = f"no divergence: both sets play the same {self.bars_original} bars"
        else:
            head = (
                f"first divergent bar {self.first_divergent_bar}; {self.differing_bars} of"
                f" {max(self.bars_original, self.bars_what_if)} bars differ"
            )
        if self.stand_ins:
            head += f", but {'; '.join(self.not_decided())}"
        out = [head] + [f"  {stand_in.describe()}" for stand_in in self.stand_ins]
        out += [f"  {line}" for line in self.rejected]
        out.append(f"{'bars':>9}  {'energy':<14}  layers (original → what-if)")
        for phrase in self.phrases:
            span = f"{phrase.first_bar}-{phrase.first_bar + phrase.bars - 1}"
            mark = " " if phrase.original == phrase.what_if else "*"
            a, b = phrase.original, phrase.what_if
            gone = [f"-{r}" for r in a.roles if r not in b.roles]
            new = [f"+{r}" for r in b.roles if r not in a.roles]
            change = " ".join(gone + new) or "same roles"
            energy = f"{a.energy:.2f} → {b.energy:.2f}"
            others = [
                f"{s.kind}, not {s.asked}"
                for s in self.stand_ins
                if s.first_bar < phrase.first_bar + phrase.bars and s.last_bar >= phrase.first_bar
            ]
            by = f"  ({'; '.join(dict.fromkeys(others))})" if others else ""
            out.append(f"{mark}{span:>8}  {energy:<14}  {len(a.roles)} → {len(b.roles)}: {change}{by}")
        return out


def parse_swaps(items: list[str]) -> dict[str, str]:
    """``SLOT=KIND`` items as a mapping; a bad one raises WhatIfError naming it."""
    swaps: dict[str, str] = {}
    for item in items:
        slot, sep, kind = item.partition("=")
        if not sep or not slot or not kind:
            raise WhatIfError(f"--swap {item}: expected SLOT=KIND, e.g. conductor=autopilot")
        if slot not in SWAPPABLE:
            raise WhatIfError(f"--swap {item}: only {' and '.join(SWAPPABLE)} can be swapped")
        if slot in swaps:
            raise WhatIfError(f"--swap {item}: {slot} is already swapped to {swaps[slot]}; swap each slot once")
        try:
            registry.factory(slot, kind)
        except LookupError as exc:
            raise WhatIfError(f"--swap {item}: {exc}") from None
        swaps[slot] = kind
    return swaps


def musical_diff(original: list[BarPlan], what_if: list[BarPlan], phrase_bars: int) -> MusicalDiff:
    """Compare two sets' played plans: the first bar that differs, how many do, and each phrase side by side."""
    longest = max(len(original), len(what_if))
    differs = [i for i in range(longest) if i >= len(original) or i >= len(what_if) or original[i] != what_if[i]]
    phrases = tuple(
        PhraseDiff(
            start,
            min(phrase_bars, longest - start),
            _phrase(original, start, phrase_bars),
            _phrase(what_if, start, phrase_bars),
        )
        for start in range(0, longest, phrase_bars)
    )
    return MusicalDiff(differs[0] if differs else -1, len(differs), len(original), len(what_if), phrases)


def deciders(events: Iterable[ev.Event], slot: str) -> list[tuple[str, str]]:
    """The kind that decided each bar played in ``slot``, and why it had taken over ("" for the kind that started
    the set): the conductor's leading brain, the critic's mode, whatever a fallback or a swap put in the slot."""
    changes: list[tuple[int, str, str]] = []
    played = 0
    for event in events:
        match event:
            case ev.ActorStarted() if event.slot == slot and not changes:
                changes.append((0, event.kind, ""))
            case ev.ActorFellBack() if event.slot == slot:
                changes.append((event.bar, event.new, f"{event.old} fell back: {event.reason}"))
            case ev.ActorSwapped() if event.slot == slot:
                changes.append((event.bar, event.new, "swapped by a command"))
            case ev.BrainChanged() if slot == "conductor":
                changes.append((event.bar, event.new, event.reason))
            case ev.CriticChanged() if slot == "critic":
                changes.append((event.bar, event.new, event.reason))
            case ev.BarPlayed():
                played = max(played, event.bar + 1)
    decided: list[tuple[str, str]] = []
    for bar in range(played):
        kind, why = next(((k, w) for start, k, w in reversed(changes) if start <= bar), ("none", "no actor"))
        decided.append((kind, why))
    return decided


def stand_ins(slot: str, asked: str, what_if: list[tuple[str, str]], original: list[tuple[str, str]]) -> list[StandIn]:
    """The runs of bars in which a kind other than ``asked`` decided the what-if's ``slot``."""
    runs: list[StandIn] = []
    for bar, (kind, why) in enumerate(what_if):
        if kind == asked:
            continue
        also = bar < len(original) and original[bar][0] == kind and original[bar][1] != ""
        last = runs[-1] if runs else None
        if last is not None and (last.last_bar, last.kind, last.reason, last.in_original) == (bar - 1, kind, why, also):
            runs[-1] = msgspec.structs.replace(last, last_bar=bar)
        else:
            runs.append(StandIn(slot, asked, kind, bar, bar, why, also))
    return runs


def _phrase(plans: list[BarPlan], start: int, length: int) -> PhraseSide:
    bars = plans[start : start + length]
    roles = sorted({layer.role for plan in bars for layer in plan.layers if layer.gain > 0})
    energy = sum(plan.energy for plan in bars) / len(bars) if bars else 0.0
    return PhraseSide(tuple(roles), round(energy, 2))


class Recording(msgspec.Struct, frozen=True):
    """What a logged set took from outside: LM answers by purpose (in order) and the person's commands, each with
    the bar played just before it."""

    answers: dict[str, list[str]]
    commands: tuple[tuple[int, ev.Event], ...]


def recording(reader: LogReader) -> Recording:
    purposes: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    commands: list[tuple[int, ev.Event]] = []
    last_bar = -1
    for event in reader:
        if isinstance(event, ev.LMRequest):
            purposes[event.request_id] = event.purpose
        elif isinstance(event, ev.LMResponse):  # a scored answer (a choice ballot) as a script gives one
            answer = json.dumps({"scores": list(event.scores)}) if event.scores else event.text
            answers.setdefault(purposes.get(event.request_id, "*"), []).append(answer)
        elif isinstance(event, ev.LMFailed):  # not JSON: a request that asks for JSON fails again
            failed = f"(this request failed in the original set: {event.reason})"
            answers.setdefault(purposes.get(event.request_id, "*"), []).append(failed)
        elif isinstance(event, ev.BarPlayed):
            last_bar = event.bar
        elif event.source == "control":
            commands.append((last_bar, msgspec.structs.replace(event, seq=0, wall=0.0)))
    return Recording(answers, tuple(commands))


def check_whole(log_path: Path) -> None:
    """Refuse a log cut short or damaged: the bars it lacks would count as divergence."""
    found = audit(log_path)
    if found.problems:
        first = located(log_path, found.problems[0])
        raise IncompleteLog(f"{first}; a what-if plays whole sets only (replay --verify tells)")


def what_if(
    log_path: Path, swaps: dict[str, str], out_dir: Path, warn: Callable[[str], None], pack: Path | None = None
) -> tuple[Path, Path, MusicalDiff]:
    """Play the logged set again with ``swaps`` into ``out_dir``; returns the new log, WAV and the musical diff."""
    check_whole(log_path)
    if out_dir.resolve() == log_path.resolve().parent:
        raise WhatIfError(f"--out {out_dir}: that is the folder of the log being played again; choose another")
    reader = LogReader(log_path)
    scenario = scenario_of(reader, pack)
    record = recording(LogReader(log_path))
    for slot, kind in swaps.items():
        scenario = replace(scenario, **{slot: msgspec.structs.replace(getattr(scenario, slot), kind=kind)})
    new_log, new_wav = set_paths(scenario, out_dir, stamp="whatif")
    if new_log.exists() or new_wav.exists():
        raise WhatIfError(f"--out {out_dir}: already holds {new_log.name}; choose an empty folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WhatIfError(f"--out {out_dir}: cannot make the folder: {exc.strerror or exc}") from None
    script = out_dir / f".{new_log.stem}.answers.json"
    scenario = _recorded_router(scenario, record, script)
    try:
        trio.run(lambda: _play(scenario, reader.header.scenario_text, record, new_log, new_wav))
    finally:
        script.unlink(missing_ok=True)
    phrase_bars = int(getattr(scenario.conductor, "phrase_bars", 16))
    diff = musical_diff(list(played_plans(LogReader(log_path))), list(played_plans(LogReader(new_log))), phrase_bars)
    others = [
        stand_in
        for slot, kind in swaps.items()
        for stand_in in stand_ins(slot, kind, deciders(LogReader(new_log), slot), deciders(LogReader(log_path), slot))
    ]
    diff = msgspec.structs.replace(
        diff,
        stand_ins=tuple(sorted(others, key=lambda s: (s.first_bar, s.slot))),
        rejected=newly_rejected(LogReader(log_path), LogReader(new_log)),
    )
    for line in diff.not_decided():
        shown = "; ".join(s.describe() for s in diff.stand_ins if line.startswith(f"{s.slot}={s.asked} "))
        warn(f"what-if: {line}: {shown}")
    for line in diff.rejected:
        warn(f"what-if: {line}")
    return new_log, new_wav, diff


def newly_rejected(original: Iterable[ev.Event], what_if: Iterable[ev.Event]) -> tuple[str, ...]:
    """The person's commands the original carried out and the what-if refused (a provider command against the
    what-if's recorded answers, a swap the new brain cannot take), one line each, in order."""

    def rejections(events: Iterable[ev.Event]) -> tuple[list[str], dict[int, str]]:
        """The commands in order, and the reason each refused one (by its place in that order) was refused."""
        place: dict[int, int] = {}
        said: list[str] = []
        refused: dict[int, str] = {}
        for event in events:
            if event.source == "control" and not isinstance(event, ev.CommandRejected):
                place[event.seq] = len(said)
                said.append(_said(event))
            elif isinstance(event, ev.CommandRejected) and event.cause in place:
                refused[place[event.cause]] = event.reason
        return said, refused

    said, refused_before = rejections(original)
    again, refused_now = rejections(what_if)
    return tuple(
        f"the command {again[i]!r} (accepted in the original) was rejected: {why}"
        for i, why in sorted(refused_now.items())
        if i not in refused_before and i < len(said)
    )


def _said(event: ev.Event) -> str:
    match event:
        case ev.Control():
            return " ".join([event.command, *(str(v) for v in event.args.values())])
        case ev.ProviderControl():
            return f"provider {event.op} {event.provider}"
        case ev.Steer():
            return event.text or f"{event.intent} {event.value:g}"
    return type(event).__name__


def _recorded_router(scenario: Scenario, record: Recording, script: Path) -> Scenario:
    """The router serves the logged answers, once each, instead of asking any provider."""
    if not record.answers:
        return scenario
    script.write_text(json.dumps(record.answers))
    provider = {
        "name": "recorded",
        "kind": "scripted",
        "script": str(script.resolve()),
        "cycle": False,
        "verbatim": True,
    }
    router = msgspec.to_builtins(scenario.router) | {"providers": [provider], "auto": False}
    return replace(scenario, router=msgspec.convert(router, RouterConfig))


class CueSink(OfflineSink):
    """Offline playback that types the person's logged commands at the point of the set where they came: each
    just before the bar after the one it followed is handed over, as the original's commands were."""

    def __init__(self, commands: tuple[tuple[int, ev.Event], ...]) -> None:
        self.commands = list(commands)
        self.bus: Bus | None = None
        self.handed = 0

    async def play(self, audio: Any) -> Played:
        while self.bus is not None and self.commands and self.commands[0][0] < self.handed:
            self.bus.publish(self.commands.pop(0)[1])
        self.handed += 1
        return await super().play(audio)


async def _play(scenario: Scenario, text: str, record: Recording, log: Path, wav: Path) -> None:
    sink = CueSink(record.commands)

    def attach(supervisor: Supervisor) -> None:
        sink.bus = supervisor.bus

    await perform(scenario, text, log_path=log, wav_path=wav, sink=sink, before_start=attach)
