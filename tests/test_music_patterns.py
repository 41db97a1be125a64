"""Named patterns and step strings become the ticks the renderer places hits at."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bergain_actors.music.patterns import PATTERNS, UnknownPattern, beats_to_ticks, pattern_hits, steps16
from bergain_actors.music.plan import TICKS_PER_BEAT

Q = TICKS_PER_BEAT


def test_bergain_patterns_keep_their_meaning() -> None:
    assert pattern_hits("four_on_floor") == (0, Q, 2 * Q, 3 * Q)
    assert pattern_hits("offbeat_8ths") == beats_to_ticks([0.5, 1.5, 2.5, 3.5])
    assert pattern_hits("syncopated_a") == beats_to_ticks([0.5, 2.5])
    assert pattern_hits("syncopated_b") == beats_to_ticks([1.5, 3.5])
    assert pattern_hits("backbeat") == (Q, 3 * Q)
    assert pattern_hits("sparse_accent") == (Q,)
    assert pattern_hits("gallop") == beats_to_ticks([0, 0.5, 2, 2.5])
    assert pattern_hits("straight_8ths") == tuple(range(0, 4 * Q, Q // 2))


def test_sixteenth_drive_is_really_sixteenths() -> None:
    assert pattern_hits("sixteenth_drive") == tuple(range(0, 4 * Q, Q // 4))
    assert pattern_hits("sixteenths") == pattern_hits("sixteenth_drive")
    assert pattern_hits("offbeat_16ths") == tuple(t for t in range(0, 4 * Q, Q // 4) if t % (Q // 2))
    assert pattern_hits("downbeat") == (0,)


def test_patterns_tile_over_other_meters_and_stay_inside_the_bar() -> None:
    assert pattern_hits("four_on_floor", 3) == (0, Q, 2 * Q)
    assert pattern_hits("backbeat", 7) == (Q, 3 * Q, 5 * Q)
    for name in PATTERNS:
        for beats in (3, 4, 5, 7):
            hits = pattern_hits(name, beats)
            assert hits == tuple(sorted(set(hits)))
            assert all(0 <= t < beats * Q for t in hits), name


def test_unknown_pattern_lists_the_valid_names() -> None:
    with pytest.raises(UnknownPattern) as err:
        pattern_hits("four_on_the_floor")
    assert isinstance(err.value, ValueError)
    assert "four_on_the_floor" in str(err.value)
    for name in PATTERNS:
        assert name in str(err.value)


def test_steps16_strings_and_lists() -> None:
    assert steps16("x...x...x...x...") == pattern_hits("four_on_floor")
    assert steps16("x... x... | x... x...") == pattern_hits("four_on_floor")
    assert steps16([0, 0, 1, 0] * 4) == pattern_hits("offbeat_8ths")
    assert steps16("................") == ()
    with pytest.raises(ValueError, match="bad step"):
        steps16("x..?")


def test_beats_to_ticks_is_exact_for_fractions() -> None:
    assert beats_to_ticks(["1/3", Fraction(2, 3), 1]) == (32, 64, 96)
    assert beats_to_ticks([0.333333]) == (32,)
    assert beats_to_ticks([1, 1.0, 0.5]) == (48, 96)
    with pytest.raises(ValueError):
        beats_to_ticks([-0.5])
