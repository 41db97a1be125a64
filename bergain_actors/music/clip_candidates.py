"""Clip candidates: the clips code can write for a prompt, for an LM to choose among.

A 135M model asked for notes repeats one note; a large one writes music, but not always in key or on the grid.
So the notes are ours: for each role a handful of figures a techno producer would write (basslines, chord
progressions, stab motifs, drum grooves, textures), each built in the asked key over the asked bars, and each with
a sentence that says how it sounds. An LM only chooses the sentence that fits the prompt. What words say for sure is
not left to it: a "progression" has two chords or more, and every groove keeps the kick on the beats and the hats
on the offbeats. ``keyword_pick`` is the choice without an LM, the baseline an LM's choice is measured against.
Pure: the same request and theory give the same candidates.
"""

from __future__ import annotations

import re

import msgspec

from bergain_actors.music.notes import GM_DRUMS, bass_root, voicing
from bergain_actors.music.plan import TICKS_PER_BEAT, Note
from bergain_actors.music.theory import Theory

STEP = TICKS_PER_BEAT // 4
"""One sixteenth: figures are written on the sixteenth grid."""


class Candidate(msgspec.Struct, frozen=True):
    """One clip code wrote for a request."""

    name: str
    says: str
    """How it sounds, in a producer's words: what an LM reads to choose it."""
    words: tuple[str, ...]
    """Words in a prompt that point to it (stems: ``roll`` matches rolling): the keyword baseline's evidence."""
    notes: tuple[Note, ...]
    """Ticks from the clip's start, sorted."""
    chords: int = 1
    """How many different chords it plays: a progression has two or more."""


# --- figures --------------------------------------------------------------------------------------------------------
# A figure is one or more bars of sixteenths: a scale step above the chord's root, "." a rest, "-" holds the note
# before. Scale steps keep every note in key whatever the key and mode.

_BASS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "offbeat",
        "offbeat bass: one short note between each kick, classic and driving",
        ("offbeat", "classic", "driving", "simple", "house", "bounc"),
        ". . 0 . . . 0 . . . 0 . . . 0 -",
    ),
    (
        "rolling",
        "rolling bass: sixteenths filling the gaps between the kicks, hypnotic and relentless",
        ("roll", "hypnot", "relentless", "gallop", "sixteenth", "16th", "fast", "busy", "peak"),
        ". 0 0 0 . 0 0 0 . 0 0 0 . 0 0 4",
    ),
    (
        "acid",
        "acid line: squelchy 303 sixteenths jumping octaves, restless and twisted",
        ("acid", "303", "squelch", "twist", "resonant", "wild", "ácid", "sauer"),
        "7 . 0 0 . 9 0 . 3 . 0 4 . 0 6 . 7 0 . 0 2 . 7 . 4 0 . 10 0 . -1 0",
    ),
    (
        "sub",
        "deep sub bass: long low notes held across the bar, dark and minimal",
        ("sub", "deep", "dark", "minimal", "long", "low", "dub", "profund", "tief", "oscur", "dunkel"),
        "0 - - - - - - - - - - - . . . . 0 - - - - - - - . . . . -3 - - -",
    ),
    (
        "syncopated",
        "syncopated bass: notes off the grid with a bounce, funky and groovy",
        ("syncop", "funk", "groov", "bounc", "swing", "broken", "electro"),
        "0 . . 0 . . 7 . . 0 . . 4 . 2 .",
    ),
    (
        "melodic",
        "melodic bassline: walking up and down the scale, warm and musical",
        ("melod", "walk", "warm", "musical", "emotional", "uplift", "euphor", "melód"),
        "0 . . 2 . . 4 . . 5 . . 4 . 2 .",
    ),
)

_PROGRESSIONS: dict[str, tuple[tuple[str, tuple[int, ...], str, tuple[str, ...]], ...]] = {
    "minor": (
        ("four", (0, 5, 2, 6), "four chords rising and falling, emotional", ("emotion", "melanchol", "progress")),
        ("dark", (0, 3, 4, 0), "a dark cadence, brooding and tense", ("dark", "tense", "tension", "brood", "sinister")),
        ("epic", (0, 6, 5, 6), "an epic climb of four chords, euphoric", ("epic", "euphor", "uplift", "big", "anthem")),
        ("two", (0, 3), "two chords swaying, deep", ("two", "deep", "sway", "dub")),
        ("one", (0,), "one chord, hypnotic and minimal", ("one", "single", "hypnot", "minimal", "repet")),
    ),
    "major": (
        ("four", (0, 4, 5, 3), "four chords, bright and uplifting", ("bright", "uplift", "progress", "happy")),
        ("dark", (0, 3, 1, 4), "a wandering cadence, tense", ("dark", "tense", "tension", "wander")),
        ("epic", (0, 5, 3, 4), "an anthemic climb of four chords, euphoric", ("epic", "euphor", "anthem", "big")),
        ("two", (0, 3), "two chords swaying, deep", ("two", "deep", "sway", "dub")),
        ("one", (0,), "one chord, hypnotic and minimal", ("one", "single", "hypnot", "minimal", "repet")),
    ),
}
"""Chord progressions as scale degrees, one chord a bar (cycling), for minor-family and major-family keys."""

_HELD = "0 - - - - - - - - - - - - - - -"
_OFFBEATS = ". . 0 . . . 0 . . . 0 . . . 0 ."
_CHORD_RHYTHMS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "held",
        "held pads",
        ("pad", "held", "sustain", "warm", "lush", "slow", "ambient"),
        "0 - - - - - - - - - - - - - - -",
    ),
    (
        "offbeat",
        "short offbeat stabs",
        ("stab", "offbeat", "short", "rave", "bounc", "classic"),
        ". . 0 . . . 0 . . . 0 . . . 0 .",
    ),
    (
        "dub",
        "long dub stabs off the beat",
        ("dub", "echo", "space", "deep", "chord stab"),
        ". . . 0 - - . . . . 0 - - . . .",
    ),
    ("pump", "pumping eighths", ("pump", "driv", "energ", "peak", "euphor", "big"), "0 . 0 . 0 . 0 . 0 . 0 . 0 . 0 ."),
)

_CHORD_SETS: tuple[tuple[str, str], ...] = (
    ("four", "held"),
    ("four", "offbeat"),
    ("dark", "held"),
    ("epic", "pump"),
    ("two", "dub"),
    ("one", "offbeat"),
)
"""Which progression goes with which rhythm: six chord clips, not all twenty combinations."""

_STABS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "arp",
        "arpeggio: chord tones up and down in sixteenths, trancey and flowing",
        ("arp", "trance", "flow", "sixteenth", "16th", "sequence", "arpeg"),
        "0 2 4 7 4 2 0 2 4 7 9 7 4 2 4 7",
    ),
    (
        "stabs",
        "offbeat chord stabs: short and punchy, classic rave",
        ("stab", "rave", "punch", "classic", "offbeat", "chord"),
        ". . c . . . c . . . c . . . c .",
    ),
    (
        "dub",
        "dub stab: one long echoing chord off the beat, deep and spacious",
        ("dub", "echo", "space", "deep", "chicago", "detroit"),
        ". . . c - - - . . . . . . . . . . . . . . . c - - - . . . . . .",
    ),
    (
        "hook",
        "hook: a catchy riff of a few notes repeated, bold",
        ("hook", "catchy", "riff", "lead", "bold", "synth", "peak"),
        "4 . 4 . 2 . 0 . . . 2 . 4 - . .",
    ),
    (
        "answer",
        "call and response: a question bar, then an answer, melodic",
        ("call", "response", "melod", "answer", "question", "melód", "lead"),
        "0 . 2 . 4 - - . . . . . . . . . 4 . 2 . 0 - - . -1 . 0 - - . . .",
    ),
    (
        "sparse",
        "sparse accents: a single stab now and then, minimal and hypnotic",
        ("sparse", "minimal", "hypnot", "single", "few", "accent", "spars"),
        ". . . . c - . . . . . . . . . . . . . . . . . . . . . . . . c -",
    ),
)

_DRUMS: tuple[tuple[str, str, tuple[str, ...], dict[str, str]], ...] = (
    (
        "classic",
        "classic techno groove: kick on every beat, offbeat hats, clap on two and four",
        ("classic", "techno", "simple", "standard", "four", "straight", "groove", "beat"),
        {"clap": ". . . . x . . . . . . . x . . ."},
    ),
    (
        "rolling",
        "rolling groove: sixteenth hats, congas and percussion, busy and driving",
        ("roll", "busy", "driv", "sixteenth", "16th", "conga", "percuss", "fast", "tribal"),
        {
            "closed_hat": "o o x o o o x o o o x o o o x o",
            "conga_high": ". o . o . o . o . o . o . o . o",
            "perc": ". . . . . . . o . . . . . o . .",
        },
    ),
    (
        "minimal",
        "minimal groove: kick, offbeat hats and a lone rimshot, sparse and hypnotic",
        ("minimal", "sparse", "hypnot", "stripped", "tight", "spars"),
        {"rim": ". . . . . . . . . . . o . . . ."},
    ),
    (
        "peak",
        "peak-time groove: open hats, ride and claps, big and energetic",
        ("peak", "big", "energ", "euphor", "banging", "open", "ride", "festival"),
        {
            "open_hat": ". . x . . . x . . . x . . . x .",
            "ride": "o . o . o . o . o . o . o . o .",
            "clap": ". . . . x . . . . . . . x . . .",
        },
    ),
    (
        "warehouse",
        "warehouse groove: kick, offbeat hats, syncopated toms and rim, dark and raw",
        ("warehouse", "dark", "raw", "industrial", "tom", "hard", "berlin"),
        {"tom_low": ". . . o . . . . . . o . . . . o", "rim": ". . . . . . o . . . . . . . o ."},
    ),
)
"""Every groove adds to the same spine: the kick on each beat and closed hats on each offbeat."""

_SPINE = {"kick": "x . . . x . . . x . . . x . . .", "closed_hat": ". . x . . . x . . . x . . . x ."}

_TEXTURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("drone", "dark drone: root and fifth held low, ominous", ("drone", "dark", "omin", "low", "eerie", "oscur")),
    ("pad", "warm pad: a wide chord held, lush", ("pad", "warm", "lush", "wide", "soft")),
    (
        "swell",
        "evolving swells: chords changing every bar, atmospheric",
        ("evolv", "swell", "atmos", "chang", "ambient"),
    ),
)

_VELOCITY = {"x": 110, "o": 80, "c": 100}


def candidates(role: str, theory: Theory, bars: int, beats_per_bar: int = 4) -> tuple[Candidate, ...]:
    """Every clip code writes for ``role`` over ``bars`` bars in ``theory``'s key (following its peak
    progression where a figure follows chords)."""
    steps = 4 * beats_per_bar
    if role == "bass":
        follow = theory.progressions.get("peak") or (0,)
        return tuple(
            Candidate(name, says, words, _bass(theory, figure, follow, bars, steps), _changes(follow, bars))
            for name, says, words, figure in _BASS
        )
    if role == "chords":
        family = "major" if theory.intervals[2] == 4 else "minor"
        progressions = {name: (degrees, says, words) for name, degrees, says, words in _PROGRESSIONS[family]}
        rhythms = {name: (says, words, figure) for name, says, words, figure in _CHORD_RHYTHMS}
        out = []
        for prog, rhythm in _CHORD_SETS:
            degrees, p_says, p_words = progressions[prog]
            r_says, r_words, figure = rhythms[rhythm]
            notes = _chords(theory, figure, degrees, bars, steps)
            out.append(
                Candidate(
                    f"{prog}-{rhythm}", f"{r_says} over {p_says}", p_words + r_words, notes, _changes(degrees, bars)
                )
            )
        return tuple(out)
    if role == "stab":
        follow = theory.progressions.get("peak") or (0,)
        return tuple(
            Candidate(name, says, words, _stab(theory, figure, follow, bars, steps), _changes(follow, bars))
            for name, says, words, figure in _STABS
        )
    if role == "drums":
        return tuple(
            Candidate(name, says, words, _drums({**_SPINE, **extra}, bars, steps))
            for name, says, words, extra in _DRUMS
        )
    if role == "texture":
        return tuple(
            Candidate(name, says, words, _texture(theory, name, bars, steps), 1 if name != "swell" else min(bars, 4))
            for name, says, words in _TEXTURES
        )
    raise ValueError(f"role {role!r}: not one of bass, chords, stab, drums, texture")


def admissible(candidates_: tuple[Candidate, ...], prompt: str) -> tuple[Candidate, ...]:
    """The candidates the prompt's words allow for sure: a "progression" (or "changes") has two chords or more."""
    if re.search(r"\b(progressions?|progresión|changes|akkordfolge)\b", prompt.lower()):
        moving = tuple(c for c in candidates_ if c.chords >= 2)
        return moving or candidates_
    return candidates_


def shortlist(candidates_: tuple[Candidate, ...], style: str) -> tuple[int, ...]:
    """The candidates whose words the prompt says most often (all of them when it says none): what the words
    decide, and what they leave to an LM."""
    words = re.findall(r"[^\W\d_]+|\d+", style.lower())
    scores = [sum(any(w.startswith(stem) for w in words) for stem in c.words) for c in candidates_]
    return tuple(i for i, score in enumerate(scores) if score == max(scores))


def keyword_pick(candidates_: tuple[Candidate, ...], style: str) -> int:
    """The choice without an LM, the baseline: the first of the shortlist (so no words pick the first)."""
    return shortlist(candidates_, style)[0]


# --- writing the notes ------------------------------------------------------------------------------------------------


def _tokens(figure: str, steps: int) -> list[str]:
    """A figure's tokens, whole bars of ``steps`` (a figure written for 4/4 is cut or padded for other meters)."""
    tokens = figure.split()
    per_bar = 16
    bars = [tokens[i : i + per_bar] for i in range(0, len(tokens), per_bar)]
    return [t for bar in bars for t in (bar + ["."] * steps)[:steps]]


def _events(figure: str, bars: int, steps: int) -> list[tuple[int, int, str]]:
    """(start tick, length in ticks, token) of each note a figure plays over ``bars`` bars, repeating it."""
    tokens = _tokens(figure, steps)
    total = bars * steps
    out = []
    for i in range(total):
        token = tokens[i % len(tokens)]
        if token in (".", "-"):
            continue
        length = 1
        while length < total - i and tokens[(i + length) % len(tokens)] == "-" and (i + length) % steps:
            length += 1
        out.append((i * STEP, length * STEP, token))
    return out


def _changes(degrees: tuple[int, ...], bars: int) -> int:
    """How many different chords one chord a bar through ``degrees`` plays in ``bars`` bars."""
    return len({degrees[b % len(degrees)] for b in range(bars)})


def _degree_at(follow: tuple[int, ...], tick: int, steps: int) -> int:
    return follow[(tick // (steps * STEP)) % len(follow)]


def _scale_step(theory: Theory, degree: int, steps: int) -> int:
    return theory.offset(degree + steps) - theory.offset(degree)


def _bass(theory: Theory, figure: str, follow: tuple[int, ...], bars: int, steps: int) -> tuple[Note, ...]:
    notes = []
    for start, length, token in _events(figure, bars, steps):
        degree = _degree_at(follow, start, steps)
        pitch = bass_root(theory, degree) + _scale_step(theory, degree, int(token))
        accent = 110 if (start // STEP) % 4 in (0, 2) else 92
        notes.append(Note(pitch, start, max(STEP - 3, length - 3), accent))
    return tuple(sorted(notes))


def _chords(theory: Theory, figure: str, degrees: tuple[int, ...], bars: int, steps: int) -> tuple[Note, ...]:
    notes = []
    for start, length, _ in _events(figure, bars, steps):
        degree = _degree_at(degrees, start, steps)
        notes.extend(Note(p, start, length, 96) for p in voicing(theory, degree, 4, 55))
    return tuple(sorted(notes))


def _stab(theory: Theory, figure: str, follow: tuple[int, ...], bars: int, steps: int) -> tuple[Note, ...]:
    notes = []
    for start, length, token in _events(figure, bars, steps):
        degree = _degree_at(follow, start, steps)
        if token == "c":
            notes.extend(Note(p, start, length, _VELOCITY["c"]) for p in voicing(theory, degree, 4, 60))
        else:
            root = 60 + (theory.chord_root(degree) - 60) % 12
            notes.append(Note(root + _scale_step(theory, degree, int(token)), start, length, 100))
    return tuple(sorted(notes))


def _drums(voices: dict[str, str], bars: int, steps: int) -> tuple[Note, ...]:
    return tuple(
        sorted(
            Note(GM_DRUMS[sound], start, STEP, _VELOCITY[token])
            for sound, figure in voices.items()
            for start, _, token in _events(figure, bars, steps)
        )
    )


def _texture(theory: Theory, name: str, bars: int, steps: int) -> tuple[Note, ...]:
    bar = steps * STEP
    out = []
    for b in range(bars):
        if name == "drone":
            root = 33 + (theory.root - 33) % 12
            pitches = (root, root + _scale_step(theory, 0, 4), root + 12)
        elif name == "pad":
            pitches = voicing(theory, 0, 5, 48)
        else:
            pitches = voicing(theory, (0, 5, 3, 4)[b % 4], 4, 48)
        out.extend(Note(p, b * bar, bar, 72) for p in pitches)
    return tuple(sorted(out))
