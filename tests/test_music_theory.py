"""Keys parse as musicians write them; chords are stacked thirds in the scale; progressions come from the seed."""

from __future__ import annotations

import random

import pytest

from bergain_actors.core.scenario import ScenarioError, from_builtins
from bergain_actors.music.theory import (
    MAJOR_PROGRESSIONS,
    MINOR_PROGRESSIONS,
    PHASE_NAMES,
    SCALES,
    TheoryError,
    parse_key,
    set_theory,
)


@pytest.mark.parametrize(
    ("text", "root", "scale", "tonic"),
    [
        ("A minor", 9, "minor", "A"),
        ("F# dorian", 6, "dorian", "F#"),
        ("Bbm", 10, "minor", "Bb"),
        ("c major", 0, "major", "C"),
        ("D", 2, "major", "D"),
        ("Eb mixolydian", 3, "mixolydian", "Eb"),
        ("G harmonic minor", 7, "harmonic minor", "G"),
        ("  E   Phrygian ", 4, "phrygian", "E"),
        ("B aeolian", 11, "minor", "B"),
        ("Cb major", 11, "major", "Cb"),
        ("F♯ min", 6, "minor", "F#"),
    ],
)
def test_keys_parse_as_musicians_write_them(text: str, root: int, scale: str, tonic: str) -> None:
    assert parse_key(text) == (root, scale, tonic)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("H minor", "key 'H minor': expected a note A-G (with # or b) and a scale, e.g. 'A minor', 'F# dorian'"),
        ("A blues", "key 'A blues': unknown scale 'blues'; valid scales: minor, major, dorian"),
        ("", "key '': expected a note A-G"),
        ("A# minor please", "unknown scale 'minor please'"),
    ],
)
def test_a_bad_key_says_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(TheoryError) as info:
        parse_key(text)
    assert message in str(info.value)


def test_scales_are_the_textbook_ones() -> None:
    c_major = set_theory(0, "C major")
    assert c_major.pitch_classes() == {0, 2, 4, 5, 7, 9, 11}  # the white keys
    a_minor = set_theory(0, "A minor")
    assert a_minor.pitch_classes() == c_major.pitch_classes()  # the relative minor
    assert set_theory(0, "D dorian").pitch_classes() == c_major.pitch_classes()
    assert set_theory(0, "A harmonic minor").pitch_classes() == {9, 11, 0, 2, 4, 5, 8}
    assert not a_minor.in_key(61) and a_minor.in_key(57)  # C#4 no, A3 yes


def test_diatonic_sevenths_in_a_minor_and_c_major() -> None:
    a_minor = set_theory(0, "A minor")
    assert [a_minor.chord_name(d) for d in range(7)] == ["Am7", "Bm7b5", "Cmaj7", "Dm7", "Em7", "Fmaj7", "G7"]
    c_major = set_theory(0, "C")
    assert [c_major.chord_name(d) for d in range(7)] == ["Cmaj7", "Dm7", "Em7", "Fmaj7", "G7", "Am7", "Bm7b5"]
    assert a_minor.chord(0) == (0, 3, 7) and a_minor.chord(5, 4) == (0, 4, 7, 11)


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_every_chord_tone_is_in_key(scale: str) -> None:
    theory = set_theory(3, f"F# {scale}")
    for degree in range(-7, 14):
        root = theory.root + theory.offset(degree)
        assert all(theory.in_key(root + interval) for interval in theory.chord(degree, 5)), (scale, degree)


def test_the_seed_picks_the_progressions_and_nothing_else_does() -> None:
    assert set_theory(7) == set_theory(7)
    assert set_theory(7).key == "A minor"  # the shipped pack's key when none is asked for
    chosen = {tuple(sorted(set_theory(seed).progressions.items())) for seed in range(30)}
    assert len(chosen) > 5
    for seed in range(30):
        theory = set_theory(seed, "E major" if seed % 2 else "E minor")
        table = MAJOR_PROGRESSIONS if seed % 2 else MINOR_PROGRESSIONS
        assert set(theory.progressions) == set(PHASE_NAMES)
        assert all(theory.progressions[p] in table[p] for p in PHASE_NAMES)
        assert theory.progressions["peak2"] != theory.progressions["peak"]
        assert theory.degree_at("intro", 0) == 0 and theory.degree_at("outro", 0) == 0  # home at both ends


def test_global_random_is_left_alone() -> None:
    random.seed(1)
    expected = random.random()
    random.seed(1)
    set_theory(99, "C minor")
    assert random.random() == expected


def test_a_key_round_trips_through_its_name() -> None:
    theory = set_theory(5, "Bb dorian")
    assert theory.key == "Bb dorian"
    assert parse_key(theory.key)[:2] == (theory.root, theory.scale)


def test_the_scenario_key_is_checked_when_it_loads() -> None:
    assert from_builtins({"key": "F# dorian"}).key == "F# dorian"
    with pytest.raises(ScenarioError) as info:
        from_builtins({"key": "A lydianish"}, "set.toml")
    assert str(info.value).startswith("set.toml: key 'A lydianish': unknown scale 'lydianish'")
