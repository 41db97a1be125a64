"""Prompt → clip, the pure half: prompts in three languages parse into bars, role, key and style, or are refused
with the field and the fix; the candidates code writes are in key, in range and exactly as long as asked; the words
that say something for sure ("progression", "drums") hold whatever the LM chooses; and the command line refuses a
bad prompt in one line with exit 2 before anything starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bergain_actors.music.clip import CLIP_RANGES, ClipError, ClipRequest, build_clip, parse_prompt
from bergain_actors.music.clip_candidates import admissible, candidates, keyword_pick
from bergain_actors.music.notes import GM_DRUMS
from bergain_actors.music.plan import TICKS_PER_BEAT
from bergain_actors.music.theory import set_theory

Q = TICKS_PER_BEAT
ROLES = ("bass", "chords", "stab", "drums", "texture")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("4-bar acid bassline in A minor", ClipRequest(4, "bass", "A minor", "acid")),
        ("Generate a 4-bar acid bassline in A minor", ClipRequest(4, "bass", "A minor", "acid")),
        ("two bar dark rolling bassline in F#m", ClipRequest(2, "bass", "F# minor", "dark rolling")),
        ("8 bars of chords in Bb", ClipRequest(8, "chords", "Bb major", "")),
        ("dub techno stab in C dorian, 2 bars", ClipRequest(2, "stab", "C dorian", "dub techno")),
        ("a hypnotic 16-bar pad in E phrygian", ClipRequest(16, "chords", "E phrygian", "hypnotic")),
        ("1 bar drum groove", ClipRequest(1, "drums", None, "")),
        ("a chromatic lead", ClipRequest(4, "stab", None, "chromatic", in_key=False)),
        ("Make me a deep sub bass line in g minor please", ClipRequest(4, "bass", "G minor", "deep")),
        ("eerie drone", ClipRequest(4, "texture", None, "eerie")),
        ("bassline in C with swing", ClipRequest(4, "bass", "C major", "")),
        ("drums in a club style", ClipRequest(4, "drums", None, "")),
        ("bassline in a minor", ClipRequest(4, "bass", "A minor", "")),
        ("stabs in e", ClipRequest(4, "stab", None, "")),
        ("stabs in E", ClipRequest(4, "stab", "E major", "")),
        ("2 bar chord stab progression in C major", ClipRequest(2, "chords", "C major", "stab")),
        # Spanish and German: adjectives after the noun, solfège and German note names
        ("un bajo ácido en re menor", ClipRequest(4, "bass", "D minor", "ácido")),
        ("dos compases de acordes en sol mayor", ClipRequest(2, "chords", "G major", "")),
        ("hazme una batería de 8 compases", ClipRequest(8, "drums", None, "")),
        ("Basslinie in a-moll", ClipRequest(4, "bass", "A minor", "")),
        ("4 Takte Akkorde in h-moll", ClipRequest(4, "chords", "B minor", "")),
        ("Akkorde in fis-moll", ClipRequest(4, "chords", "F# minor", "")),
        ("chords in Am, 4 bars, in A minor, four bars", ClipRequest(4, "chords", "A minor", "")),  # said twice: one
        ("4-bar acid bassline at 130 bpm in A minor", ClipRequest(4, "bass", "A minor", "acid", bpm=130.0)),
        ("130bpm bassline", ClipRequest(4, "bass", None, "", bpm=130.0)),  # before: "bpm" was its style
    ],
)
def test_prompts_parse(prompt: str, expected: ClipRequest) -> None:
    assert parse_prompt(prompt) == expected


@pytest.mark.parametrize(
    "prompt",
    ["D minor bassline", "bassline in the key of D minor", "a bassline (D minor)", "bassline, key of D minor"],
)
def test_a_key_named_anywhere_is_the_clips_key(prompt: str) -> None:
    """Before, only "in D minor" was read: these gave the set's key (A minor) and said nothing."""
    assert parse_prompt(prompt) == ClipRequest(bars=4, role="bass", key="D minor")


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "prompt: empty"),
        ("   ", "prompt: empty"),
        ("something nice in A minor", "role: say what to write (bassline, chords, pad, stab, lead, drums, texture)"),
        ("un morceau de musique", "prompts in English, Spanish or German are read"),
        ("40-bar bassline", "bars: 40 is not between 1 and 32"),
        ("999-bar bassline in H minor", "bars: 999 is not between 1 and 32"),
        ("0 bar bassline", "bars: 0 is not between 1 and 32"),
        ("1.5 bar bassline", "bars: 1.5 is not a whole number of bars"),  # before: a 5-bar clip
        ("a 2,5-bar pad", "bars: 2,5 is not a whole number of bars"),
        ("bassline in A blues", "unknown scale 'blues'"),
        ("4-bar bassline in H minor", "key: 'H' is not a note; notes are A to G"),
        ("H minor bassline", "key: 'H' is not a note; notes are A to G"),
        ("chords in X dorian", "key: 'X' is not a note"),
        ("bassline in A minor in C major", "key: A minor and C major both asked for; say one key"),  # before: A minor
        ("bajo en re menor in C major", "key: D minor and C major both asked for"),
        ("4-bar bassline, 8 bars", "bars: 4 and 8 both asked for; say one length"),  # before: 4 bars
        ("bassline 128 bpm, 140 BPM", "tempo: 128 and 140 BPM both asked for; say one"),
    ],
)
def test_bad_prompts_say_what_is_wrong(prompt: str, message: str) -> None:
    with pytest.raises(ClipError) as info:
        parse_prompt(prompt)
    assert message in str(info.value)


@pytest.mark.parametrize("key", ["A minor", "C major", "F# phrygian", "Bb dorian", "E harmonic minor"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("bars", [1, 2, 4, 8])
def test_every_candidate_is_in_key_in_range_and_exactly_as_long_as_asked(key: str, role: str, bars: int) -> None:
    theory = set_theory(3, key)
    made = candidates(role, theory, bars)
    lo, hi = CLIP_RANGES[role]
    assert len(made) >= 3 and len({c.name for c in made}) == len(made) and len({c.says for c in made}) == len(made)
    for candidate in made:
        notes = candidate.notes
        assert notes and list(notes) == sorted(notes)
        assert all(lo <= n.pitch <= hi for n in notes), candidate.name
        assert all(n.start >= 0 and n.duration >= 1 and n.start + n.duration <= bars * 4 * Q for n in notes)
        assert all(1 <= n.velocity <= 127 for n in notes)
        if role != "drums":
            assert all(theory.in_key(n.pitch) for n in notes), candidate.name
        assert {n.start // (4 * Q) for n in notes} == set(range(bars)), candidate.name  # every bar plays


def test_candidates_differ_in_the_notes_not_only_in_their_words() -> None:
    theory = set_theory(0, "A minor")
    for role in ROLES:
        made = candidates(role, theory, 4)
        assert len({c.notes for c in made}) == len(made), role


def test_every_groove_keeps_the_kick_on_the_beats_and_the_hats_on_the_offbeats() -> None:
    for groove in candidates("drums", set_theory(0), 2):
        kicks = {n.start for n in groove.notes if n.pitch == GM_DRUMS["kick"]}
        hats = {n.start for n in groove.notes if n.pitch == GM_DRUMS["closed_hat"]}
        assert kicks == {b * Q for b in range(8)}, groove.name
        assert {b * Q + Q // 2 for b in range(8)} <= hats, groove.name


def test_a_progression_has_two_chords_or_more_whoever_chooses() -> None:
    theory = set_theory(0, "C major")
    request = parse_prompt("2 bar chord stab progression in C major")
    allowed = admissible(candidates(request.role, theory, request.bars), "2 bar chord stab progression in c major")
    assert allowed and all(c.chords >= 2 for c in allowed)
    for candidate in allowed:  # what each would play: two different chords in two bars
        bars = [frozenset(n.pitch for n in candidate.notes if n.start // (4 * Q) == b) for b in range(2)]
        assert bars[0] != bars[1], candidate.name
    assert any(c.chords == 1 for c in candidates("chords", theory, 2))  # without the word, one chord may be chosen


def test_the_keywords_choose_by_the_words_and_the_first_without_any() -> None:
    theory = set_theory(0, "A minor")
    bass = candidates("bass", theory, 4)
    assert bass[keyword_pick(bass, "acid")].name == "acid"
    assert bass[keyword_pick(bass, "ácido")].name == "acid"
    assert bass[keyword_pick(bass, "dark rolling")].name in ("rolling", "sub")
    assert keyword_pick(bass, "") == 0 and keyword_pick(bass, "purple") == 0


def test_the_chosen_candidate_is_the_clip() -> None:
    request = parse_prompt("2-bar acid bassline in E phrygian")
    theory = set_theory(0, request.key)
    acid = next(c for c in candidates("bass", theory, 2) if c.name == "acid")
    clip = build_clip(request, theory, acid)
    assert (clip.role, clip.key, clip.bars, clip.notes) == ("bass", "E phrygian", 2, acid.notes)
    assert len({n.pitch for n in clip.notes}) >= 6  # the acid line moves: not one note repeated


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "prompt: empty"),
        ("4-bar bassline in H minor", "key: 'H' is not a note"),
        ("999-bar bassline in H minor", "bars: 999 is not between 1 and 32"),
        ("a kazoo solo", "role: say what to write"),
        ("4-bar bassline in A minor in C major", "key: A minor and C major both asked for"),
    ],
)
def test_the_command_line_refuses_a_bad_prompt_in_one_line_with_exit_2(prompt: str, message: str, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bergain_actors.cli", "clip", prompt, "--midi", str(tmp_path / "x.mid")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not (tmp_path / "x.mid").exists()
