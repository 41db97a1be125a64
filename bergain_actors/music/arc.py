"""The shape of a set: phases, the energy target, density caps, and how energy is measured.

The target must be reachable (bergain's peak target of 0.9 could never be met by its own recommended gains, so
"build up" fired through the whole peak): ``max_energy`` gives the loudest mix the guardrails allow, and a test
checks it clears every phase's target.
"""

from __future__ import annotations

from collections.abc import Iterable

from bergain_actors.music.plan import BarPlan, Layer

PHASES: tuple[tuple[str, float, float, float, int], ...] = (
    # name, start (fraction of the set), target energy at start, at end, density cap
    ("intro", 0.0, 0.35, 0.45, 3),
    ("build", 0.125, 0.50, 0.75, 5),
    ("peak", 0.375, 0.80, 0.85, 7),
    ("breakdown", 0.60, 0.30, 0.35, 5),
    ("peak2", 0.70, 0.80, 0.90, 7),
    ("outro", 0.90, 0.50, 0.20, 3),
)

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
}
"""How much a role at full gain adds to the felt energy of a bar."""

ENERGY_SCALE = 3.4
"""Weighted gain sum that reads as energy 1.0 (a full peak groove sums to ~3.0)."""

GAIN_CAPS = {"texture": 0.55, "synth": 0.50, "fx": 0.60}
DEFAULT_GAIN_CAP = 1.0


def phase_at(bar: int, total_bars: int) -> tuple[str, float, int]:
    """(phase name, target energy, density cap) for ``bar``: the target is interpolated across the phase."""
    frac = bar / max(total_bars, 1)
    for i, (name, start, lo, hi, cap) in enumerate(PHASES):
        end = PHASES[i + 1][1] if i + 1 < len(PHASES) else 1.0
        if frac < end or i + 1 == len(PHASES):
            within = (frac - start) / (end - start) if end > start else 0.0
            return name, round(lo + (hi - lo) * min(max(within, 0.0), 1.0), 4), cap
    raise AssertionError("unreachable")


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
