"""What a set report plots, computed from a set's events alone (pure: the tests check it against the log).

Every series is indexed by the bar the speakers played (holds included), so the plots line up with the WAV.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec

from bergain_actors.core import events as ev

SILENCE_DB = -90.0
"""Loudness shown for a silent bar (log of zero)."""


class Answered(msgspec.Struct, frozen=True):
    """A directive from the Critic, or a person's steer, and what answered it."""

    bar: int
    kind: str
    text: str
    answer: str = ""
    """The Conductor's action (empty: never answered)."""
    answer_bar: int = -1
    source: str = "critic"


class Latency(msgspec.Struct, frozen=True):
    bar: int
    request_id: str
    provider: str
    """Who answered ('' when no provider could)."""
    latency_ms: float
    ok: bool = True


class ProviderState(msgspec.Struct, frozen=True):
    bar: int
    provider: str
    state: str
    """closed, half_open or open."""


class SetSeries(msgspec.Struct):
    """Everything a report plots. Per-bar lists have one entry per bar played, in order."""

    name: str = ""
    bpm: float = 0.0
    bars: list[int] = []
    target: list[float] = []
    """The energy the Conductor aimed at (the arc's target, as steering moved it)."""
    energy: list[float] = []
    """The energy of the mix that played."""
    rms_db: list[float] = []
    peak_db: list[float] = []
    held: list[bool] = []
    bpm_by_bar: list[float] = []
    """The tempo each bar was played at (a glide's steps)."""
    layers: dict[str, list[float]] = {}
    """Role → its gain in each bar played (0: not playing)."""
    phases: list[tuple[int, str]] = []
    """(first bar, phase) for each part of the set."""
    answered: list[Answered] = []
    latencies: list[Latency] = []
    providers: list[ProviderState] = []
    underflows: list[tuple[int, int]] = []
    """(bar, count) for each bar the device reported underflows in."""
    outages: list[tuple[str, int, int]] = []
    """(what, first bar, bar it was back or -1) for each time the audio device or Ableton Live went away."""


def db(value: float) -> float:
    return round(20 * math.log10(value), 2) if value > 0 else SILENCE_DB


def series(events: Iterable[ev.Event]) -> SetSeries:
    """The report's data from a set's events (a log read in order)."""
    out = SetSeries(layers={})
    plans: dict[int, ev.BarPlanned] = {}
    asked: dict[int, Answered] = {}
    roles: dict[str, list[float]] = {}
    for event in events:
        match event:
            case ev.SetStarted():
                out.name, out.bpm = event.name, event.bpm
            case ev.BarPlanned():
                plans[event.seq] = event
            case ev.BarPlayed():
                plan = plans[event.plan_seq].plan if event.plan_seq in plans else None
                index = len(out.bars)
                out.bars.append(event.bar)
                out.target.append(plan.target if plan else 0.0)
                out.energy.append(plan.energy if plan else 0.0)
                out.rms_db.append(db(event.rms))
                out.peak_db.append(db(event.peak))
                out.held.append(event.held)
                out.bpm_by_bar.append(plan.bpm if plan else (out.bpm_by_bar[-1] if out.bpm_by_bar else out.bpm))
                for layer in plan.layers if plan else ():
                    roles.setdefault(layer.role, [0.0] * index)
                for role, gains in roles.items():
                    gain = next((lay.gain for lay in plan.layers if lay.role == role), 0.0) if plan else 0.0
                    gains.append(gain)
                if plan and (not out.phases or out.phases[-1][1] != plan.phase):
                    out.phases.append((event.bar, plan.phase))
            case ev.Directive():
                asked[event.seq] = Answered(bar=event.bar, kind=event.kind, text=event.text)
            case ev.Steer():
                asked[event.seq] = Answered(bar=_bar(out), kind=event.intent, text=event.text, source="performer")
            case ev.DirectiveActed() | ev.SteerActed() if event.cause in asked:
                question = asked[event.cause]
                kind = event.intent if isinstance(event, ev.SteerActed) else question.kind
                asked[event.cause] = msgspec.structs.replace(
                    question, kind=kind, answer=event.action, answer_bar=event.bar
                )
            case ev.LMResponse():
                out.latencies.append(Latency(_bar(out), event.request_id, event.provider, event.latency_ms))
            case ev.LMFailed():
                out.latencies.append(Latency(_bar(out), event.request_id, "", 0.0, ok=False))
            case ev.ProviderHealth():
                known = {p.provider for p in out.providers}
                for name, state in event.states.items():
                    if name not in known:
                        out.providers.append(ProviderState(_bar(out), name, state))
            case ev.ProviderStateChanged():
                out.providers.append(ProviderState(_bar(out), event.provider, event.new))
            case ev.AudioUnderflow() if event.count:
                out.underflows.append((event.bar, event.count))
            case ev.AudioDeviceChanged():
                _outage(out, "audio device", event.status == "lost", event.bar)
            case ev.AbletonStatus(state="lost" | "restored" | "reloaded"):
                _outage(out, "Ableton Live", event.state == "lost", event.bar)
            case _:
                pass
    out.layers = {role: roles[role] for role in sorted(roles)}
    out.answered = sorted(asked.values(), key=lambda a: a.bar)
    return out


def _outage(out: SetSeries, what: str, lost: bool, bar: int) -> None:
    """A device or Live going away (a new outage) or coming back (the open one of ``what`` ends)."""
    if lost:
        out.outages.append((what, bar, -1))
        return
    for index, (name, start, end) in enumerate(out.outages):
        if name == what and end < 0:
            out.outages[index] = (name, start, bar)


def _bar(out: SetSeries) -> int:
    """The bar playing when something happened: the one after the last bar played."""
    return out.bars[-1] + 1 if out.bars else 0
