"""The arc is laid out in whole phrases: phases start on the grid, the breakdown breathes 16 or 32 bars."""

from __future__ import annotations

import itertools

import pytest

from bergain_actors.music import arc

NAMES = [name for name, *_ in arc.PHASES]


@pytest.mark.parametrize("total", [24, 64, 100, 128, 256, 257, 300, 480, 1920])
def test_every_phase_starts_on_the_phrase_grid_in_order(total):
    sections = arc.sections(total, 16)
    unit = arc.grid(total, 16)
    assert [s.name for s in sections] == NAMES
    assert sections[0].start == 0 and sections[-1].end == total
    assert all(a.end == b.start for a, b in itertools.pairwise(sections))
    assert all(s.start % unit == 0 for s in sections)
    breakdown = next(s for s in sections if s.name == "breakdown")
    assert breakdown.end - breakdown.start <= arc.MAX_BREAKDOWN_BARS
    assert [arc.phase_at(bar, total)[0] for bar in range(total)] == [
        s.name for s in sections for _ in range(s.start, s.end)
    ]


def test_an_eight_minute_set_is_sixteen_phrases_with_a_32_bar_breakdown():
    laid = {s.name: (s.start, s.end) for s in arc.sections(256, 16)}
    assert arc.grid(256, 16) == 16
    assert laid == {
        "intro": (0, 32),
        "build": (32, 80),
        "peak": (80, 144),
        "breakdown": (144, 176),
        "peak2": (176, 224),
        "outro": (224, 256),
    }


def test_short_sets_shrink_the_grid_and_tiny_ones_still_start_with_the_intro():
    assert arc.grid(64, 16) == 8
    assert arc.grid(30, 16) == 4
    assert next(s.name for s in arc.sections(3, 16)) == "intro"
    assert arc.phase_at(0, 1)[0] == "intro"


def test_targets_ramp_within_a_phase():
    start = arc.phase_at(32, 256)
    end = arc.phase_at(79, 256)
    assert start[0] == end[0] == "build"
    assert start[1] == 0.5 and end[1] == 0.75
