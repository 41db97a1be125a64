"""Prompt → clip, the pure half: prompts parse into bars, role, key and style; whatever an LM answers becomes a
playable clip of the asked length in key and range, and every repair is said."""

from __future__ import annotations

import json
import re
from itertools import pairwise

import msgspec
import pytest
import trio

from bergain_actors.core import events as ev
from bergain_actors.music.clip import (
    CLIP_RANGES,
    GRAMMAR,
    ClipAnswer,
    ClipError,
    ClipRequest,
    clip_from_answer,
    compose_clip,
    grammar,
    parse_prompt,
    pitches,
    prompt_text,
    repair_clip,
    schema,
)
from bergain_actors.music.notes import Note
from bergain_actors.music.plan import TICKS_PER_BEAT
from bergain_actors.music.theory import set_theory

Q = TICKS_PER_BEAT
A_MINOR = set_theory(0, "A minor")


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
    ],
)
def test_prompts_parse(prompt: str, expected: ClipRequest) -> None:
    assert parse_prompt(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "prompt: empty"),
        ("something nice in A minor", "role: say what to write (bassline, chords, pad, stab, lead, drums, texture)"),
        ("40-bar bassline", "bars: 40 is not between 1 and 32"),
        ("0 bar bassline", "bars: 0 is not between 1 and 32"),
        ("bassline in A blues", "unknown scale 'blues'"),
    ],
)
def test_bad_prompts_say_what_is_wrong(prompt: str, message: str) -> None:
    with pytest.raises(ClipError) as info:
        parse_prompt(prompt)
    assert message in str(info.value)


def answer(*notes: tuple[float, float, float, float]) -> str:
    return json.dumps({"notes": [dict(zip(("pitch", "start", "length", "velocity"), n, strict=True)) for n in notes]})


def test_a_good_answer_passes_untouched() -> None:
    raw = answer((33, 0, 0.5, 100), (36, 1, 0.5, 90), (40, 2.5, 0.25, 110), (45, 3.75, 0.25, 80))
    clip = repair_clip(raw, "bass", "A minor", 1)
    assert clip.repairs == ()
    assert clip.notes == (Note(33, 0, 48, 100), Note(36, Q, 48, 90), Note(40, 240, 24, 110), Note(45, 360, 24, 80))
    beats = [(n.pitch, n.start, n.length) for n in clip.in_beats()]
    assert beats == [(33, 0, 0.5), (36, 1, 0.5), (40, 2.5, 0.25), (45, 3.75, 0.25)]


def test_out_of_key_pitches_move_to_the_nearest_in_key_note() -> None:
    raw = answer((34, 0, 0.5, 100), (37, 1, 0.5, 100), (39, 2, 0.5, 100), (33, 3, 0.5, 100))
    clip = repair_clip(raw, "bassline", "A minor", 1)
    assert [n.pitch for n in clip.notes] == [33, 36, 38, 33]  # A#→A (down on a tie), C#→C, D#→D
    assert all(A_MINOR.in_key(n.pitch) for n in clip.notes)
    assert clip.repairs == ("3 notes moved into A minor",)
    chromatic = repair_clip(raw, "bass", "A minor", 1, in_key=False)
    assert [n.pitch for n in chromatic.notes] == [34, 37, 39, 33] and chromatic.repairs == ()


def test_pitches_move_by_octaves_into_the_role_range() -> None:
    raw = answer((81, 0, 1, 100), (9, 1, 1, 100), (57, 2, 1, 100))
    clip = repair_clip(raw, "bass", A_MINOR, 1)
    lo, hi = CLIP_RANGES["bass"]
    assert [n.pitch for n in clip.notes] == [57, 33, 57]
    assert all(lo <= n.pitch <= hi for n in clip.notes)
    assert clip.repairs == (f"2 notes moved by octaves into the bass range {lo}-{hi}",)


def test_mono_bass_has_no_overlaps_but_chords_keep_theirs() -> None:
    raw = answer((33, 0, 2, 100), (45, 1, 1, 90), (40, 1, 1, 120), (36, 3, 1, 100))
    clip = repair_clip(raw, "bass", "A minor", 1)
    assert clip.notes == (Note(33, 0, Q, 100), Note(40, Q, Q, 120), Note(36, 3 * Q, Q, 100))
    assert all(a.start + a.duration <= b.start for a, b in pairwise(clip.notes))
    assert "1 notes starting with another dropped (mono bass)" in clip.repairs
    chords = repair_clip(answer((57, 0, 4, 90), (60, 0, 4, 90), (64, 0, 4, 90), (57, 2, 2, 90)), "chords", "A minor", 1)
    assert [n.pitch for n in chords.notes] == [57, 60, 64, 57]  # a chord stays a chord; only A3 is cut short
    assert chords.notes[0].duration == 2 * Q and chords.repairs == (
        "1 notes overlapping the next of their pitch shortened",
    )


def test_overlong_and_lengthless_notes_are_fixed() -> None:
    clip = repair_clip(answer((57, 3, 8, 90), (60, 0, 0, 90), (64, 1, -1, 90)), "chords", "A minor", 1)
    assert clip.notes == (Note(60, 0, Q // 4, 90), Note(64, Q, Q // 4, 90), Note(57, 3 * Q, Q, 90))
    assert set(clip.repairs) == {"2 notes without length given a sixteenth", "1 notes past the clip's end shortened"}


def test_the_bar_count_is_exact() -> None:
    two_bars = answer((33, 0, 1, 100), (36, 4, 1, 100))
    clip = repair_clip(two_bars, "bass", "A minor", 4)
    assert [n.start for n in clip.notes] == [0, 4 * Q, 8 * Q, 12 * Q]  # a 2-bar answer looped to 4 bars
    assert clip.repairs == ("2-bar answer repeated to 4 bars",)
    too_long = repair_clip(answer((33, 0, 1, 100), (36, 17, 1, 100), (40, 15.5, 1, 100)), "bass", "A minor", 4)
    assert [n.start for n in too_long.notes] == [0, 1488]
    assert too_long.notes[-1].duration == Q // 2  # cut at the clip's end
    assert "1 notes past bar 4 dropped" in too_long.repairs
    three = repair_clip(answer((33, 0, 1, 100), (36, 8, 1, 100)), "bass", "A minor", 4)
    assert [n.start for n in three.notes] == [0, 8 * Q]  # 3 bars do not tile 4: played once, the clip stays 4
    for c in (clip, too_long, three):
        assert c.bars == 4 and all(n.start + n.duration <= 16 * Q for n in c.notes)


def test_what_small_models_really_write_is_read() -> None:
    prose = 'Sure! Here is your bassline:\n```json\n{"notes": [{"note": "A1", "time": 0, "duration": 0.5}, '
    prose += '[45, 1, 0.5, 300], {"pitch": "x"}, {"pitch": 40, "start": "2", "length": "0.5", "velocity": 90}]}\n```'
    clip = repair_clip(prose, "bass", "A minor", 1)
    assert clip.notes == (Note(33, 0, 48, 100), Note(45, Q, 48, 127), Note(40, 2 * Q, 48, 90))
    assert set(clip.repairs) == {"1 unreadable notes dropped", "1 velocities clamped to 1-127"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("I cannot write music.", "notes: the answer is not JSON"),
        ('{"tempo": 120}', "notes: the answer holds no list of notes"),
        ('{"notes": [{"pitch": 60}]}', "notes: nothing playable in the answer (1 unreadable notes dropped)"),
        ('{"notes": []}', "notes: nothing playable in the answer (no notes)"),
    ],
)
def test_nothing_playable_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(ClipError) as info:
        repair_clip(raw, "bass", "A minor", 4)
    assert str(info.value) == message


def test_unknown_role_and_bad_bars_are_refused() -> None:
    with pytest.raises(ClipError, match="role: unknown role 'kazoo'; valid roles: bass, chords, drums, stab, texture"):
        repair_clip(answer((60, 0, 1, 100)), "kazoo", "A minor", 1)
    with pytest.raises(ClipError, match="bars: 64 is not between 1 and 32"):
        repair_clip(answer((60, 0, 1, 100)), "stab", "A minor", 64)


def test_drums_keep_their_pitches_whatever_the_key() -> None:
    clip = repair_clip(answer((36, 0, 0.25, 120), (42, 0.5, 0.25, 80), (39, 1, 0.25, 100)), "drums", "A minor", 1)
    assert [n.pitch for n in clip.notes] == [36, 42, 39] and clip.repairs == ()


def test_schema_grammar_and_prompt_describe_the_same_answer() -> None:
    compact = '{"notes":[{"pitch":33,"start":0,"length":0.5,"velocity":100},'
    compact += '{"pitch":45,"start":1.5,"length":0.25,"velocity":90}]}'

    assert len(msgspec.json.decode(compact, type=ClipAnswer).notes) == 2
    rules = grammar("bass", A_MINOR, 4)
    assert all(" " not in literal for literal in rules.split('"')[1::2]), "no whitespace in the grammar's literals"
    for name in ("pitch", "start", "length", "velocity"):
        assert f'\\"{name}\\":' in rules and name in schema(4)["properties"]["notes"]["items"]["required"]
    offered = [int(p) for p in re.findall(r'"(\d+)"', rules.split("pitch ::= ")[1].split("\n")[0])]
    assert offered == list(pitches("bass", A_MINOR)) and 33 in offered and 34 not in offered  # A1 yes, A#1 no
    assert all(A_MINOR.in_key(p) and 24 <= p <= 60 for p in offered)
    assert '"15"' in rules.split("start ::= ")[1].split("\n")[0] and '"16"' not in rules  # starts inside 4 bars
    assert len(pitches("stab", A_MINOR, in_key=False)) == 88 - 45 + 1
    assert schema(4)["properties"]["notes"]["maxItems"] == 64
    request = parse_prompt("4-bar acid bassline in A minor")
    text = prompt_text(request, set_theory(0, request.key))
    assert "4-bar acid bass clip in A minor" in text and "pitch 24-60" in text and "(0 to 16)" in text


@pytest.mark.llm
@pytest.mark.timeout(900)
@pytest.mark.parametrize("fitted", [True, False], ids=["role grammar", "generic grammar"])
async def test_the_embedded_lm_answers_the_grammar_with_a_repairable_clip(fitted: bool) -> None:
    """Both grammars are ones llama.cpp accepts, and what SmolLM2 writes under them becomes a clip."""
    from tests.router_harness import running

    request = parse_prompt("2-bar acid bassline in A minor")
    theory = set_theory(0, request.key)
    messages = (
        {"role": "system", "content": "You write MIDI clips for a techno set. Answer with JSON only."},
        {"role": "user", "content": prompt_text(request, theory)},
    )
    # offline the model runs un-niced and the request waits for its boot; on a loaded machine an answer may take
    # minutes: this is about the grammar, not speed
    local = {"providers": [{"name": "local", "kind": "local", "timeout_s": 300.0}], "restart_delay_s": 0.1}
    async with running(local, fast=True) as h:
        with trio.fail_after(600):
            started = await h.wait_for(ev.LocalServerChanged)
        assert started.status == "started", started
        answer = await h.ask(
            messages=messages,
            grammar=grammar(request.role, theory, request.bars) if fitted else GRAMMAR,
            max_tokens=200,
            purpose="clip",
        )
    assert isinstance(answer, ev.LMResponse) and answer.provider == "local", answer
    text = answer.text
    if not text.endswith("]}"):  # cut off by max_tokens: the grammar still held for every complete note
        text = text[: text.rfind("},") + 1] + "]}"
    notes = msgspec.json.decode(text, type=ClipAnswer).notes
    assert notes, text
    clip = clip_from_answer(text, request, theory)
    lo, hi = CLIP_RANGES["bass"]
    assert clip.bars == 2 and all(lo <= n.pitch <= hi and theory.in_key(n.pitch) for n in clip.notes)
    assert all(n.start + n.duration <= 8 * Q for n in clip.notes)


@pytest.mark.parametrize(
    "prompt",
    [
        "4-bar acid bassline in A minor",
        "2 bar rolling bass in E phrygian",
        "chords in Bb",
        "dub stab in F minor",
        "1 bar drums",
        "dark drone in C# dorian",
        "8 bar lead in G mixolydian",
    ],
)
def test_composed_clips_are_in_key_in_range_and_exact(prompt: str) -> None:
    request = parse_prompt(prompt)
    theory = set_theory(0, request.key)
    clip = compose_clip(request, theory)
    lo, hi = CLIP_RANGES[clip.role]
    assert clip.role == request.role and clip.bars == request.bars and len(clip.notes) >= request.bars
    assert all(lo <= n.pitch <= hi for n in clip.notes)
    assert all(n.start + n.duration <= request.bars * 4 * Q for n in clip.notes)
    if clip.role != "drums":
        assert all(theory.in_key(n.pitch) for n in clip.notes)
    again = repair_clip([msgspec.structs.astuple(n) for n in clip.in_beats()], clip.role, theory, clip.bars)
    assert again.notes == clip.notes and again.repairs == ()  # our own clip needs no repair


def test_the_prompt_style_picks_the_figure() -> None:
    acid = compose_clip(parse_prompt("acid bassline"), A_MINOR).notes
    offbeat = compose_clip(parse_prompt("bassline"), A_MINOR).notes
    assert acid[0] == Note(45, 0, 21, acid[0].velocity)  # the pack's acid line opens on A2
    assert {n.start % Q for n in offbeat} == {Q // 2}  # the plain bassline sits on the offbeats


def test_a_thin_or_broken_answer_is_composed_instead_and_says_so() -> None:
    request = parse_prompt("2-bar acid bassline in A minor")
    echo = answer(*[(24, 2, 2, 127)] * 8)  # what SmolLM2 wrote without a grammar and an example
    clip = clip_from_answer(echo, request, A_MINOR)
    assert clip.notes == compose_clip(request, A_MINOR).notes
    assert clip.repairs == ("notes: only 1 distinct notes for 2 bars; composed from A minor instead",)
    broken = clip_from_answer("no JSON here", request, A_MINOR)
    assert broken.repairs == ("notes: the answer is not JSON; composed from A minor instead",)
    good = answer((33, 0, 0.5, 100), (36, 1, 0.5, 90), (40, 4.5, 0.5, 90))
    assert clip_from_answer(good, request, A_MINOR) == repair_clip(good, "bass", A_MINOR, 2)
