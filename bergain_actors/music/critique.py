"""Critique rules over the bars just played: pure functions from bars to directives.

bergain's stagnation check compared one 8-bar phrase with nothing (window 8, stride 8) and so could never fire;
here repetition is judged over at least two phrases, and it escalates while it persists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from bergain_actors.music import arc
from bergain_actors.music.plan import BarPlan

ENERGY_TOLERANCE = 0.15
KICK_PRESENCE = 0.85
KICK_PHASES = frozenset({"build", "peak", "peak2"})
LIMITER_DB = 3.0


class PlayedBar(msgspec.Struct, frozen=True):
    """One bar as the Critic heard it: the plan that sounded and what the audio measured."""

    bar: int
    plan: BarPlan
    held: bool = False
    rms: float = 0.0
    peak: float = 0.0
    gain_reduction_db: float = 0.0


class Finding(msgspec.Struct, frozen=True):
    kind: str
    text: str
    severity: int = 1
    data: dict[str, Any] = {}


def signature(plan: BarPlan) -> tuple:
    """What makes two bars sound the same: layers, samples, gains (to the dB or so) and rhythm."""
    return tuple((layer.role, layer.sample, round(layer.gain, 2), layer.kind, layer.hits) for layer in plan.layers)


def critique(
    bars: Sequence[PlayedBar],
    *,
    total_bars: int,
    repetition_bars: int,
    every_bars: int,
    stagnant_streak: int = 0,
) -> list[Finding]:
    """Directives for the bars just played. ``bars`` holds at least the last ``repetition_bars`` bars if the set
    is that far in; the energy and density rules look at the last ``every_bars`` of them."""
    if not bars:
        return []
    recent = list(bars[-every_bars:])
    now = recent[-1].bar
    phase, target, cap = arc.phase_at(now, total_bars)
    findings: list[Finding] = []

    energies = [arc.plan_energy(b.plan) for b in recent]
    mean_energy = sum(energies) / len(energies)
    if mean_energy < target - ENERGY_TOLERANCE:
        findings.append(
            Finding(
                "energy_up",
                f"build up: energy {mean_energy:.2f} is under the {phase} target {target:.2f}",
                1,
                {"energy": round(mean_energy, 3), "target": target},
            )
        )
    elif mean_energy > target + ENERGY_TOLERANCE:
        findings.append(
            Finding(
                "energy_down",
                f"strip back: energy {mean_energy:.2f} is over the {phase} target {target:.2f}",
                1,
                {"energy": round(mean_energy, 3), "target": target},
            )
        )

    mean_layers = sum(len(b.plan.layers) for b in recent) / len(recent)
    if mean_layers > cap:
        findings.append(
            Finding(
                "less_dense",
                f"too dense: {mean_layers:.1f} layers on average, {cap} suit the {phase}",
                1,
                {"layers": round(mean_layers, 2), "cap": cap},
            )
        )

    if phase in KICK_PHASES:
        with_kick = sum(any(layer.role == "kick" for layer in b.plan.layers) for b in recent) / len(recent)
        if with_kick < KICK_PRESENCE:
            findings.append(
                Finding(
                    "add_kick",
                    f"bring the kick back: it played in {with_kick:.0%} of the last bars",
                    1,
                    {"kick_presence": round(with_kick, 3)},
                )
            )

    window = list(bars[-repetition_bars:])
    if len(window) >= repetition_bars and len({signature(b.plan) for b in window}) == 1:
        severity = min(3, stagnant_streak + 1)
        findings.append(
            Finding(
                "vary",
                f"stagnant: the same bar for {len(window)} bars — change something audible",
                severity,
                {"bars": len(window), "streak": stagnant_streak + 1},
            )
        )

    reduction = sum(b.gain_reduction_db for b in recent) / len(recent)
    if reduction > LIMITER_DB:
        findings.append(
            Finding(
                "quieter",
                f"too loud: the limiter takes {reduction:.1f} dB off on average",
                1,
                {"gain_reduction_db": round(reduction, 2)},
            )
        )
    return findings
