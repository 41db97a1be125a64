"""Judging a played set from its log and its audio: the figures `bench/bench_music.py` prints and the tests hold.

The measuring itself is pure (``music/measure.py``); this module only walks the events to find which plan played
where, which moves were refused and where the phases began.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from bergain_actors.core import events as ev
from bergain_actors.core.clock import Meter
from bergain_actors.music import measure, texture
from bergain_actors.music.plan import BarPlan

PEAKS = ("peak", "peak2")


class SetReport(msgspec.Struct, frozen=True):
    bars: int
    lufs: float
    """Integrated loudness of the whole set (LUFS)."""
    phrase_lufs: tuple[float, ...]
    phrase_centroid_hz: tuple[float, ...]
    phrase_phase: tuple[str, ...]
    """The phase each phrase starts in."""
    breakdown_to_peak_lu: float
    """Loudness of the peaks minus loudness of the breakdown (nan without a breakdown)."""
    stereo_correlation: float
    highs_correlation: float
    """The same above 150 Hz: the width of everything but the kick and the bass."""
    combinations: int
    """Distinct textures heard (``texture.distinct``: (role, sample, pattern) sets lasting 4 bars or more)."""
    role_combinations: int
    """Distinct sets of roles heard (coarser: a sample or pattern swap is not counted)."""
    longest_identical_run: int
    """Bars."""
    identical_consecutive_phrases: int
    moves: int
    refused: int
    phrases_changed: int
    phrases_compared: int
    phases_off_grid: tuple[int, ...]
    """Bars where a phase began off the phrase grid."""
    silent_seconds: int
    """After bar 1."""
    outro_end_has_kick: bool
    peak_layers: float = 0.0
    """Layers sounding (gain above 0) per bar in the peaks, on average: how dense the set gets."""
    centroid_hz: float = 0.0
    """Power-weighted spectral centroid of the whole set: how bright it sounds."""
    peak_lufs: float = math.nan
    """Loudness of the peaks: how much energy the set reaches."""

    @property
    def refused_rate(self) -> float:
        return self.refused / self.moves if self.moves else 0.0


def played_plans(events: list[ev.Event]) -> list[BarPlan]:
    """The plans in the order the speakers took them (a held bar repeats its plan under the new bar number)."""
    plans: dict[int, BarPlan] = {}
    out = []
    for event in events:
        if isinstance(event, ev.BarPlanned):
            plans[event.seq] = event.plan
        elif isinstance(event, ev.BarPlayed):
            plan = plans[event.plan_seq]
            out.append(msgspec.structs.replace(plan, bar=event.bar) if event.held else plan)
    return out


def assess(events: list[ev.Event], audio: np.ndarray, rate: int, phrase_bars: int = 16) -> SetReport:
    plans = played_plans(events)
    meter = Meter(plans[0].bpm if plans else 128.0, plans[0].beats_per_bar if plans else 4)
    analysed = measure.blocks(audio, rate)

    def frames(first: int, last: int) -> tuple[int, int]:
        start, _ = meter.bar_frames(first, rate)
        end, n = meter.bar_frames(last, rate)
        return start, end + n

    phrase_lufs, centroids, phrase_phase = [], [], []
    for first in range(0, len(plans), phrase_bars):
        last = min(first + phrase_bars, len(plans)) - 1
        start, end = frames(first, last)
        phrase_lufs.append(round(measure.segment_loudness(analysed, start, end, rate), 1))
        centroids.append(round(measure.segment_centroid(analysed, start, end, rate)))
        phrase_phase.append(plans[first].phase)

    def phase_power(names: tuple[str, ...]) -> np.ndarray:
        idx = [measure.segment(analysed, *frames(i, i), rate) for i, p in enumerate(plans) if p.phase in names]
        return analysed.power[np.concatenate(idx)] if idx else np.zeros(0)

    breakdown = phase_power(("breakdown",))
    peaks = phase_power(PEAKS)
    spread = (
        measure.gated_loudness(peaks) - measure.gated_loudness(breakdown) if breakdown.size and peaks.size else math.nan
    )
    moves = [e for e in events if isinstance(e, ev.MixerMove)]
    peak_counts = [sum(1 for lay in p.layers if lay.gain > 0 and lay.role != "bed") for p in plans if p.phase in PEAKS]
    changed = measure.changed_phrases(plans, phrase_bars)
    outro = [p for p in plans if p.phase == "outro"]
    return SetReport(
        bars=len(plans),
        lufs=round(measure.gated_loudness(analysed.power), 1),
        phrase_lufs=tuple(phrase_lufs),
        phrase_centroid_hz=tuple(centroids),
        phrase_phase=tuple(phrase_phase),
        breakdown_to_peak_lu=round(spread, 1),
        stereo_correlation=round(measure.stereo_correlation(audio), 3),
        highs_correlation=round(measure.highs_correlation(analysed), 3),
        combinations=texture.distinct(plans),
        role_combinations=texture.distinct_role_sets(plans),
        longest_identical_run=measure.longest_identical_run(plans),
        identical_consecutive_phrases=measure.identical_consecutive_phrases(plans, phrase_bars),
        moves=len(moves),
        refused=sum(1 for m in moves if m.result.startswith("refused")),
        phrases_changed=sum(changed),
        phrases_compared=len(changed),
        phases_off_grid=tuple(e.bar for e in events if isinstance(e, ev.PhaseChanged) and e.bar % phrase_bars),
        silent_seconds=measure.silent_seconds(audio, rate, skip_frames=meter.bar_frames(1, rate)[0]),
        outro_end_has_kick=bool(outro) and any(layer.role == "kick" and layer.gain > 0 for layer in outro[-1].layers),
        peak_layers=round(float(np.mean(peak_counts)), 2) if peak_counts else 0.0,
        centroid_hz=round(measure.segment_centroid(analysed, 0, len(audio), rate)),
        peak_lufs=round(measure.gated_loudness(peaks), 1) if peaks.size else math.nan,
    )
