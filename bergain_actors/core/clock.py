"""Musical time: bars and beats are exact; wall time is derived from them only at the edges."""

from __future__ import annotations

from fractions import Fraction

import msgspec

from bergain_actors.music.plan import TICKS_PER_BEAT


def exact_bpm(bpm: float) -> Fraction:
    """The tempo as an exact fraction (128.0 → 128, 133.33 → 13333/100) so durations never drift."""
    return Fraction(str(bpm)).limit_denominator(1_000_000)


class Meter(msgspec.Struct, frozen=True):
    """Tempo and time signature: the map between bars and seconds."""

    bpm: float
    beats_per_bar: int = 4

    @property
    def bar_seconds(self) -> Fraction:
        return self.beats_per_bar * 60 / exact_bpm(self.bpm)

    @property
    def ticks_per_bar(self) -> int:
        return self.beats_per_bar * TICKS_PER_BEAT

    def seconds_at(self, bar: int, tick: int = 0) -> Fraction:
        """Seconds from the start of bar 0 to (bar, tick)."""
        return (bar + Fraction(tick, self.ticks_per_bar)) * self.bar_seconds

    def bars_in(self, minutes: float) -> int:
        """Whole bars that fit in ``minutes`` (at least one)."""
        return max(1, int(Fraction(str(minutes)) * 60 / self.bar_seconds))

    def bar_frames(self, bar: int, sample_rate: int) -> tuple[int, int]:
        """(first frame, frame count) of ``bar`` at ``sample_rate``: floor of the exact positions, so no drift."""
        start = int(self.seconds_at(bar) * sample_rate)
        end = int(self.seconds_at(bar + 1) * sample_rate)
        return start, end - start
