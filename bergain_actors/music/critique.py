"""Critique rules over the bars just played: pure functions from bars to directives.

bergain's stagnation check compared one 8-bar phrase with nothing (window 8, stride 8) and so could never fire;
here repetition is judged over at least two phrases, and it escalates while it persists.

Every finding names a measurable target (``data``: ``measure``, its ``value`` now and the ``target`` it should
move toward); ``measures`` computes each measure over any window of bars, so a critic can tell, a judgement later,
whether the directive was acted on: whether the target moved (``moved``). ``critique`` judges the plans against
the arc; ``hear_critique`` judges what the audio measured (``music/hearing.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from bergain_actors.music import arc
from bergain_actors.music.arrangement import ORNAMENTS
from bergain_actors.music.hearing import Hearing
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
    heard: Hearing | None = None


class Finding(msgspec.Struct, frozen=True):
    kind: str
    text: str
    severity: int = 1
    data: dict[str, Any] = {}


def signature(plan: BarPlan) -> tuple:
    """What makes two bars sound the same: layers, samples, gains (to the dB or so) and rhythm; a one-bar fill or
    riser is a transition, not a change of groove."""
    return tuple(
        (layer.role, layer.sample, round(layer.gain, 2), layer.kind, layer.hits)
        for layer in plan.layers
        if layer.role not in ORNAMENTS
    )


def critique(
    bars: Sequence[PlayedBar],
    *,
    total_bars: int,
    repetition_bars: int,
    every_bars: int,
    stagnant_streak: int = 0,
    phrase_bars: int = 16,
) -> list[Finding]:
    """Directives for the bars just played. ``bars`` holds at least the last ``repetition_bars`` bars if the set
    is that far in; the energy and density rules look at the last ``every_bars`` of them."""
    if not bars:
        return []
    recent = list(bars[-every_bars:])
    now = recent[-1].bar
    phase, target, cap = arc.phase_at(now, total_bars, phrase_bars)
    findings: list[Finding] = []

    energies = [arc.plan_energy(b.plan) for b in recent]
    mean_energy = sum(energies) / len(energies)
    if mean_energy < target - ENERGY_TOLERANCE:
        findings.append(
            Finding(
                "energy_up",
                f"build up: energy {mean_energy:.2f} is under the {phase} target {target:.2f}",
                1,
                _target("energy", mean_energy, target),
            )
        )
    elif mean_energy > target + ENERGY_TOLERANCE:
        findings.append(
            Finding(
                "energy_down",
                f"strip back: energy {mean_energy:.2f} is over the {phase} target {target:.2f}",
                1,
                _target("energy", mean_energy, target),
            )
        )

    mean_layers = sum(sum(la.role not in ORNAMENTS for la in b.plan.layers) for b in recent) / len(recent)
    if mean_layers > cap:
        findings.append(
            Finding(
                "less_dense",
                f"too dense: {mean_layers:.1f} layers on average, {cap} suit the {phase}",
                1,
                _target("layers", mean_layers, cap),
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
                    _target("kick_presence", with_kick, 1.0),
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
                {**_target("sameness", 1.0, 0.0), "bars": len(window), "streak": stagnant_streak + 1},
            )
        )

    reduction = sum(b.gain_reduction_db for b in recent) / len(recent)
    if reduction > LIMITER_DB:
        findings.append(
            Finding(
                "quieter",
                f"too loud: the limiter takes {reduction:.1f} dB off on average",
                1,
                _target("gain_reduction_db", reduction, LIMITER_DB / 2),
            )
        )
    return findings


# --- what the audio measured --------------------------------------------------------------------------------------

LOUD_DB = -8.0
"""RMS above this is too loud: the limiter works all the time."""
QUIET_GROOVE_DB = -16.0
"""RMS under this in the build or a peak: the groove lacks weight."""
BREAKDOWN_DROP_DB = 6.0
"""How much quieter than the peaks a breakdown should be."""
HISS_HZ = 4000.0
"""A centroid above this is a hiss bath: hats and noise with nothing under them."""
DULL_HZ = 90.0
"""A centroid under this in a peak: the kick alone, nothing on top."""
KICK_HEARD = 0.75
"""Share of beats that must thump in the build and the peaks."""
BREAKDOWN_KICK = 0.25


def hear_critique(
    bars: Sequence[PlayedBar], *, total_bars: int, every_bars: int, phrase_bars: int = 16, peak_db: float | None = None
) -> list[Finding]:
    """Directives from what the last ``every_bars`` bars measured, against the arc's phase; ``peak_db`` is the
    loudness the peaks had so far (the breakdown is judged against it)."""
    recent = [b for b in bars[-every_bars:] if b.heard is not None]
    if not recent:
        return []
    phase = arc.phase_at(recent[-1].bar, total_bars, phrase_bars)[0]
    now = measures(recent)
    findings: list[Finding] = []
    loud, kick, centroid = now["loudness_db"], now["kick"], now["centroid_hz"]
    if loud > LOUD_DB:
        findings.append(
            Finding("quieter", f"too loud: {loud:.1f} dBFS RMS", 1, _target("loudness_db", loud, LOUD_DB - 3))
        )
    if phase in KICK_PHASES and kick < KICK_HEARD:
        text = f"bring the kick back: it thumps on {kick:.0%} of the beats in the {phase}"
        findings.append(Finding("add_kick", text, 1, _target("kick", kick, 1.0)))
    elif phase in KICK_PHASES and loud < QUIET_GROOVE_DB:
        text = f"build up: the {phase} measures {loud:.1f} dBFS, it needs weight"
        findings.append(Finding("energy_up", text, 1, _target("loudness_db", loud, QUIET_GROOVE_DB + 3)))
    if phase == "breakdown":
        if kick > BREAKDOWN_KICK:
            text = f"strip back: the breakdown still thumps on {kick:.0%} of the beats"
            findings.append(Finding("energy_down", text, 1, _target("kick", kick, 0.0)))
        elif peak_db is not None and loud > peak_db - BREAKDOWN_DROP_DB:
            text = f"strip back: the breakdown is only {peak_db - loud:.1f} dB under the peak"
            findings.append(Finding("energy_down", text, 1, _target("loudness_db", loud, peak_db - BREAKDOWN_DROP_DB)))
    if centroid > HISS_HZ:
        text = f"darker: the mix centres at {centroid:.0f} Hz, a hiss with nothing under it"
        findings.append(Finding("darker", text, 1, _target("centroid_hz", centroid, HISS_HZ / 2)))
    elif phase in ("peak", "peak2") and 0 < centroid < DULL_HZ:
        text = f"brighter: the {phase} centres at {centroid:.0f} Hz, nothing on top of the kick"
        findings.append(Finding("brighter", text, 1, _target("centroid_hz", centroid, DULL_HZ * 1.5)))
    return findings


def measures(bars: Sequence[PlayedBar]) -> dict[str, float]:
    """Every measure a directive may name, over ``bars``: from the plans, and from the audio where it was heard."""
    if not bars:
        return {}
    plans = [b.plan for b in bars]
    out = {
        "energy": sum(arc.plan_energy(p) for p in plans) / len(plans),
        "layers": sum(len(p.layers) for p in plans) / len(plans),
        "kick_presence": sum(any(layer.role == "kick" for layer in p.layers) for p in plans) / len(plans),
        "gain_reduction_db": sum(b.gain_reduction_db for b in bars) / len(bars),
        "sameness": float(len({signature(p) for p in plans}) == 1),
    }
    heard = [b.heard for b in bars if b.heard is not None]
    if heard:
        for name in ("loudness_db", "centroid_hz", "kick", "low_end", "width"):
            out[name] = sum(getattr(h, name) for h in heard) / len(heard)
    return {k: round(v, 4) for k, v in out.items()}


MOVED = 0.25
"""A target counts as moved when the measure went its way by at least this share of the gap (past it counts)."""


def moved(data: dict[str, Any], now: dict[str, float]) -> tuple[bool, float] | None:
    """Whether the measure a finding named moved toward its target, and where it is now (None: not measurable)."""
    name = data.get("measure")
    if name not in now or "value" not in data or "target" not in data:
        return None
    before, target, after = float(data["value"]), float(data["target"]), now[name]
    gap = target - before
    if abs(gap) < 1e-9:
        return abs(after - target) < 1e-6, after
    progress = (after - before) / gap
    return progress >= MOVED, after


def _target(measure: str, value: float, target: float) -> dict[str, Any]:
    return {"measure": measure, "value": round(value, 4), "target": round(target, 4)}
