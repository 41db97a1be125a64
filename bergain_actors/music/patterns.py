"""Named rhythm patterns as integer ticks, so a Conductor can say `offbeat_8ths` instead of a list of floats.

A pattern is a few onsets inside a repeating period (in beats); it is tiled across the bar, so the same name
works in 3/4 or 7/4. Names follow bergain's vocabulary; its `sixteenth_drive` was really straight eighths, which
lives on as `straight_8ths`, while `sixteenth_drive` here is what its name says.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType

from bergain_actors.music.plan import TICKS_PER_BEAT

_STEP_TICKS = TICKS_PER_BEAT // 4
"""One sixteenth note."""

_F = Fraction


def _spec(period: Fraction | int | None, *onsets: Fraction | int) -> tuple[Fraction | None, tuple[Fraction, ...]]:
    return (None if period is None else _F(period)), tuple(_F(o) for o in onsets)


_SPECS: dict[str, tuple[Fraction | None, tuple[Fraction, ...]]] = {
    # bergain's names
    "four_on_floor": _spec(1, 0),
    "offbeat_8ths": _spec(1, _F(1, 2)),
    "syncopated_a": _spec(2, _F(1, 2)),
    "syncopated_b": _spec(2, _F(3, 2)),
    "backbeat": _spec(2, 1),
    "sparse_accent": _spec(4, 1),
    "gallop": _spec(2, 0, _F(1, 2)),
    "straight_8ths": _spec(1, 0, _F(1, 2)),
    "sixteenth_drive": _spec(1, 0, _F(1, 4), _F(1, 2), _F(3, 4)),
    # more techno staples
    "sixteenths": _spec(1, 0, _F(1, 4), _F(1, 2), _F(3, 4)),
    "offbeat_16ths": _spec(1, _F(1, 4), _F(3, 4)),
    "rolling": _spec(1, _F(1, 4), _F(1, 2), _F(3, 4)),
    "downbeat": _spec(None, 0),
    "half_time": _spec(2, 0),
    "dotted_8ths": _spec(_F(3, 4), 0),
    "tresillo": _spec(2, 0, _F(3, 4), _F(3, 2)),
    "triplet_8ths": _spec(1, 0, _F(1, 3), _F(2, 3)),
    "push": _spec(4, _F(15, 4)),
}
"""name -> (period in beats, or None for once per bar; onsets within the period in beats)."""


class UnknownPattern(ValueError):
    """A pattern name that does not exist; the message lists the valid ones so a model can correct itself."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown pattern {name!r}; valid patterns: {', '.join(sorted(_SPECS))}")
        self.name = name


def beats_to_ticks(beats: Iterable[float | Fraction | int | str]) -> tuple[int, ...]:
    """Quarter-note positions (fractions allowed, e.g. 0.5 or "1/3") -> sorted unique ticks, rounded to the grid."""
    ticks = set()
    for b in beats:
        exact = _F(b) if isinstance(b, str | int | Fraction) else _F(str(b))
        if exact < 0:
            raise ValueError(f"beat position must be >= 0, got {b!r}")
        ticks.add(round(exact * TICKS_PER_BEAT))
    return tuple(sorted(ticks))


@functools.cache
def pattern_hits(name: str, beats_per_bar: int = 4) -> tuple[int, ...]:
    """The ticks of a named pattern tiled over one bar of `beats_per_bar` beats (memoized: the brains ask for the
    same few patterns every bar, and tiling them in fractions was a tenth of an offline set's planning)."""
    try:
        period, onsets = _SPECS[name]
    except KeyError:
        raise UnknownPattern(name) from None
    bar = _F(beats_per_bar)
    period = period or bar
    positions = []
    start = _F(0)
    while start < bar:
        positions.extend(start + o for o in onsets if start + o < bar)
        start += period
    return beats_to_ticks(positions)


def steps16(steps: str | Sequence[int]) -> tuple[int, ...]:
    """A step-sequencer row of sixteenths ("x...x...x...x...", or [1,0,0,0,...]) -> ticks.

    In strings `x`, `X`, `1` and `o` are hits, `.`, `-`, `0` and `_` are rests; spaces and `|` are ignored
    so rows can be written in groups ("x... x... | x... x...").
    """
    if isinstance(steps, str):
        cells = []
        for ch in steps:
            if ch in " |\t":
                continue
            if ch in "xX1o":
                cells.append(1)
            elif ch in ".-0_":
                cells.append(0)
            else:
                raise ValueError(f"bad step {ch!r} in {steps!r}: use x for a hit and . for a rest")
    else:
        cells = [int(bool(c)) for c in steps]
    return tuple(i * _STEP_TICKS for i, on in enumerate(cells) if on)


PATTERNS: Mapping[str, tuple[int, ...]] = MappingProxyType({name: pattern_hits(name) for name in _SPECS})
"""Every named pattern in a 4/4 bar, in ticks."""
