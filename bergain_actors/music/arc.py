"""The shape of a set: phases, the energy target, density caps, and how energy is measured.

The target must be reachable (bergain's peak target of 0.9 could never be met by its own recommended gains, so
"build up" fired through the whole peak): ``max_energy`` gives the loudest mix the guardrails allow, and a test
checks it clears every phase's target.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import msgspec

from bergain_actors.music.plan import BarPlan, Layer

PHASES: tuple[tuple[str, float, float, float, int], ...] = (
    # name, share of the set, target energy at start, at end, density cap
    ("intro", 0.125, 0.35, 0.45, 3),
    ("build", 0.1875, 0.50, 0.75, 5),
    ("peak", 0.25, 0.80, 0.85, 7),
    ("breakdown", 0.125, 0.30, 0.35, 5),
    ("peak2", 0.1875, 0.80, 0.90, 7),
    ("outro", 0.125, 0.50, 0.20, 3),
)
"""An 8-minute set at 128 BPM is 16 phrases of 16 bars: 2 intro, 3 build, 4 peak, 2 breakdown, 3 peak, 2 outro."""

MAX_BREAKDOWN_BARS = 32
"""A breakdown breathes for 16 or 32 bars, however long the set: longer and the floor empties."""

ROLE_WEIGHT = {
    "kick": 1.0,
    "bassline": 0.9,
    "bass": 0.8,
    "drum_loop": 0.8,
    "synth": 0.7,
    "hihat": 0.6,
    "clap": 0.6,
    "snare": 0.5,
    "perc": 0.5,
    "ride": 0.5,
    "texture": 0.4,
    "fx": 0.3,
    "bed": 0.0,
}
"""How much a role at full gain adds to the felt energy of a bar (the arrangement's bed adds none: it is the
room, under every bar)."""

ENERGY_SCALE = 3.4
"""Weighted gain sum that reads as energy 1.0 (a full peak groove sums to ~3.0)."""

GAIN_CAPS = {"texture": 0.55, "synth": 0.50, "fx": 0.60}
DEFAULT_GAIN_CAP = 1.0


class Section(msgspec.Struct, frozen=True):
    """One phase of the set: bars [start, end), always on the phrase grid."""

    name: str
    start: int
    end: int
    low: float
    high: float
    cap: int


def grid(total_bars: int, phrase_bars: int = 16) -> int:
    """The phrase length the arc is laid on: ``phrase_bars``, halved (down to 4) until every phase gets one."""
    unit = max(1, phrase_bars)
    while unit > 4 and total_bars // unit < len(PHASES):
        unit //= 2
    return unit


@functools.lru_cache(maxsize=64)
def sections(total_bars: int, phrase_bars: int = 16) -> tuple[Section, ...]:
    """The arc laid out in whole phrases: each phase gets its share of the phrases (largest remainder, at least
    one each while there are enough), the breakdown at most ``MAX_BREAKDOWN_BARS``; the last phase takes what is
    left of a set that does not end on the grid."""
    if total_bars < 4 * len(PHASES):
        return _fractions(total_bars)
    unit = grid(total_bars, phrase_bars)
    units = total_bars // unit
    shares = [share * units for _, share, *_ in PHASES]
    counts = [max(1, int(s)) for s in shares]
    most = max(1, MAX_BREAKDOWN_BARS // unit)
    breakdown = [name for name, *_ in PHASES].index("breakdown")
    counts[breakdown] = min(counts[breakdown], most)
    order = sorted(range(len(PHASES)), key=lambda i: (-(shares[i] - int(shares[i])), i))
    while sum(counts) < units:
        for i in order:
            if sum(counts) < units and (i != breakdown or counts[i] < most):
                counts[i] += 1
    while sum(counts) > units:
        counts[max((i for i in range(len(counts)) if i != 0), key=lambda i: counts[i])] -= 1
    out, start = [], 0
    for (name, _, low, high, cap), count in zip(PHASES, counts, strict=True):
        out.append(Section(name, start, start + count * unit, low, high, cap))
        start += count * unit
    last = out[-1]
    out[-1] = msgspec.structs.replace(last, end=max(last.end, total_bars))
    return tuple(out)


def _fractions(total_bars: int) -> tuple[Section, ...]:
    """A set too short for a phrase per phase: each phase starts at its share of the bars (the intro at bar 0)."""
    out, start, cumulative = [], 0, 0.0
    for name, share, low, high, cap in PHASES:
        cumulative += share
        end = (
            max(start, math.ceil(cumulative * total_bars - 1e-9))
            if name != "intro"
            else max(1, round(share * total_bars))
        )
        if end > start:
            out.append(Section(name, start, end, low, high, cap))
        start = end
    return tuple(out)


def section_at(bar: int, total_bars: int, phrase_bars: int = 16) -> Section:
    laid = sections(total_bars, phrase_bars)
    return next((s for s in laid if s.start <= bar < s.end), laid[-1])


def phase_at(bar: int, total_bars: int, phrase_bars: int = 16) -> tuple[str, float, int]:
    """(phase name, target energy, density cap) for ``bar``: the target is interpolated across the phase."""
    s = section_at(bar, total_bars, phrase_bars)
    within = (bar - s.start) / max(1, s.end - s.start - 1)
    return s.name, round(s.low + (s.high - s.low) * min(max(within, 0.0), 1.0), 4), s.cap


def gain_cap(role: str) -> float:
    return GAIN_CAPS.get(role, DEFAULT_GAIN_CAP)


def energy(layers: Iterable[Layer]) -> float:
    """Felt energy of a bar, 0..1, from its audible layers."""
    total = sum(layer.gain * ROLE_WEIGHT.get(layer.role, 0.5) for layer in layers if layer.gain > 0)
    return round(min(1.0, total / ENERGY_SCALE), 4)


def plan_energy(plan: BarPlan) -> float:
    return energy(plan.layers)


def max_energy(cap: int, roles: Iterable[str]) -> float:
    """The loudest energy a mix of at most ``cap`` layers from ``roles`` can reach within the gain caps."""
    best = sorted((gain_cap(r) * ROLE_WEIGHT.get(r, 0.5) for r in set(roles)), reverse=True)[:cap]
    return round(min(1.0, sum(best) / ENERGY_SCALE), 4)
