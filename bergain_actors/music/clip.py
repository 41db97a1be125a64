"""Prompt → MIDI clip, the pure half: what to ask an LM for, and how to make its answer playable.

An LM (a 135M model under a grammar, or a large one without) writes notes as pitch/start/length/velocity in beats.
``repair_clip`` turns whatever came back into a clip that is always playable and says what it fixed: pitches
moved into the role's range and the key (unless the prompt asked for chromatic notes), starts and lengths on our
96-ticks-a-beat grid, nothing past the clip's last bar, a short answer repeated to the asked bar count, no two
notes at once on a mono bass, no note overlapping another of its pitch. ``parse_prompt`` reads requests such as
"4-bar acid bassline in A minor"; ``grammar`` and ``schema`` say what to answer; ``clip_from_answer`` is the one
call a caller needs: the repaired answer, or, when too little is left of it (SmolLM2 likes to repeat one note), a
clip composed from our own figures, with the reason in ``repairs``. Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from bergain_actors.music.notes import RANGES, Note, tidy
from bergain_actors.music.palette import clip_notes
from bergain_actors.music.patterns import pattern_hits
from bergain_actors.music.plan import TICKS_PER_BEAT, Layer
from bergain_actors.music.theory import SCALE_ALIASES, Theory, TheoryError, parse_key, set_theory

MAX_BARS = 32
"""The longest clip anyone may ask for: Ableton clips longer than this are arrangements, not loops."""
MAX_NOTES_PER_BAR = 64
"""More than a note per sixteenth on every voice is noise, and a bound on what an answer may cost."""
DEFAULT_BARS = 4
DEFAULT_VELOCITY = 100

CLIP_RANGES: dict[str, tuple[int, int]] = {**RANGES, "drums": (35, 81)}
"""Lowest and highest pitch per role (drums: the General MIDI percussion map)."""

MONO = frozenset({"bass"})
"""Roles that sound one note at a time."""

ROLE_WORDS: dict[str, str] = {
    "bassline": "bass",
    "basslines": "bass",
    "bass": "bass",
    "sub": "bass",
    "chords": "chords",
    "chord": "chords",
    "progression": "chords",
    "pad": "chords",
    "pads": "chords",
    "stab": "stab",
    "stabs": "stab",
    "lead": "stab",
    "melody": "stab",
    "hook": "stab",
    "riff": "stab",
    "arp": "stab",
    "arpeggio": "stab",
    "synth": "stab",
    "drums": "drums",
    "drum": "drums",
    "beat": "drums",
    "groove": "drums",
    "percussion": "drums",
    "texture": "texture",
    "drone": "texture",
    "atmosphere": "texture",
    "ambience": "texture",
}
"""Words in a prompt → the track the clip is for (the first such word wins)."""

_NUMBERS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "twelve": 12,
    "sixteen": 16,
}
_FILLER = frozenset(
    {"a", "an", "the", "me", "please", "generate", "make", "write", "give", "create", "some", "new", "of", "with"}
)
_CHROMATIC = re.compile(r"\b(chromatic|atonal|out of key|any key)\b")


class ClipError(ValueError):
    """A prompt or an answer that cannot become a clip; the message names the field and the problem."""


class ClipNote(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One note as the LM writes it (and as Ableton takes it): beats from the clip's start."""

    pitch: int
    start: float
    length: float
    velocity: int = DEFAULT_VELOCITY


class ClipAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The LM's whole answer."""

    notes: list[ClipNote]


class ClipRequest(msgspec.Struct, frozen=True):
    """What a prompt asks for."""

    bars: int
    role: str
    """A track: drums, bass, chords, stab or texture."""
    key: str | None
    """As written in the prompt ("A minor"), or None: the set's key."""
    style: str = ""
    """The prompt's other words about the sound ("acid", "dark rolling"), for the LM's prompt."""
    in_key: bool = True
    """False when the prompt asks for chromatic notes."""


class Clip(msgspec.Struct, frozen=True):
    """A playable clip: exactly ``bars`` bars long, its notes in our ticks from the clip's start."""

    role: str
    key: str
    bars: int
    notes: tuple[Note, ...]
    beats_per_bar: int = 4
    repairs: tuple[str, ...] = ()
    """What ``repair_clip`` had to fix, one line each; empty when the answer was playable as it came."""

    def in_beats(self) -> tuple[ClipNote, ...]:
        """The notes as Ableton's ``/live/clip/add/notes`` takes them (pitch, start, duration in beats, velocity)."""
        return tuple(
            ClipNote(n.pitch, n.start / TICKS_PER_BEAT, n.duration / TICKS_PER_BEAT, n.velocity) for n in self.notes
        )


# --- what the LM is asked for -------------------------------------------------------------------------------------


def schema(bars: int) -> dict[str, Any]:
    """The answer's JSON schema (for providers with structured output). Bounds are there for the large models;
    ``repair_clip`` enforces them for the small ones, which ignore them."""
    beats = bars * 4
    note = {
        "type": "object",
        "properties": {
            "pitch": {"type": "integer", "minimum": 0, "maximum": 127},
            "start": {"type": "number", "minimum": 0, "maximum": beats},
            "length": {"type": "number", "exclusiveMinimum": 0, "maximum": beats},
            "velocity": {"type": "integer", "minimum": 1, "maximum": 127},
        },
        "required": ["pitch", "start", "length", "velocity"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"notes": {"type": "array", "items": note, "minItems": 1, "maxItems": bars * 16}},
        "required": ["notes"],
        "additionalProperties": False,
    }


EXAMPLE_NOTES = 4
"""How many notes of our figure the prompt shows."""

LENGTHS = ("0.25", "0.5", "0.75", "1", "1.5", "2", "3", "4")
"""Note lengths the grammar offers, in beats."""


def pitches(role: str, theory: Theory, in_key: bool = True) -> tuple[int, ...]:
    """The pitches a clip for ``role`` may use: its range, in key unless chromatic was asked (drums: all)."""
    lo, hi = CLIP_RANGES[role]
    return tuple(p for p in range(lo, hi + 1) if not in_key or role == "drums" or theory.in_key(p))


def grammar(
    role: str, theory: Theory, bars: int, in_key: bool = True, beats_per_bar: int = 4, compact: bool = False
) -> str:
    """The answer as a llama.cpp GBNF grammar without whitespace (a small model spends its tokens on indentation
    otherwise, as the phrase brain found). It offers only what ``repair_clip`` would keep: the role's pitches (in
    key), starts on the sixteenth grid inside the clip, musical lengths, audible velocities. What it cannot say
    (no overlaps, at least one note per bar) the repair still enforces. ``compact`` writes each note as
    ``[pitch,start,length,velocity]``: less than half the tokens of an object, so a small model says twice as much
    in the same time."""

    def one_of(words: Iterable[object]) -> str:
        return "(" + " | ".join(json.dumps(str(w)) for w in words) + ")"

    if compact:
        note = 'note ::= "[" pitch "," start "," length "," velocity "]"'
    else:
        note = (
            'note ::= "{\\"pitch\\":" pitch ",\\"start\\":" start ",\\"length\\":" length '
            '",\\"velocity\\":" velocity "}"'
        )
    return "\n".join(
        [
            'root ::= "{\\"notes\\":[" note ("," note)* "]}"',
            note,
            f"pitch ::= {one_of(pitches(role, theory, in_key))}",
            f'start ::= {one_of(range(bars * beats_per_bar))} (".25" | ".5" | ".75")?',
            f"length ::= {one_of(LENGTHS)}",
            'velocity ::= [6-9] [0-9] | "1" [01] [0-9] | "12" [0-7]',
        ]
    )


GRAMMAR = "\n".join(
    [
        'root ::= "{\\"notes\\":[" note ("," note)* "]}"',
        'note ::= "{\\"pitch\\":" pitch ",\\"start\\":" start ",\\"length\\":" length ",\\"velocity\\":" velocity "}"',
        'pitch ::= [0-9] | [1-9] [0-9] | "1" [01] [0-9] | "12" [0-7]',
        'start ::= [0-9] [0-9]? (".25" | ".5" | ".75")?',
        f"length ::= ({' | '.join(json.dumps(x) for x in LENGTHS)})",
        'velocity ::= [6-9] [0-9] | "1" [01] [0-9] | "12" [0-7]',
    ]
)
"""The same shape for any role and key (pitches 0-127, starts up to beat 99): for callers that do not know the
role yet. ``grammar(role, theory, bars)`` is the better one: it only offers what the repair would keep."""


def prompt_text(request: ClipRequest, theory: Theory, bpm: float = 128.0, compact: bool = False) -> str:
    """The user message for the LM: compact, with the numbers a small model needs, and the first notes of our own
    figure for the request as an example of the shape (a small model copies; a large one varies). ``compact``:
    notes as ``[pitch,start,length,velocity]`` lists, as ``grammar(..., compact=True)`` asks."""
    lo, hi = CLIP_RANGES[request.role]
    key = theory.key if request.in_key else f"any notes (around {theory.key})"
    style = f" {request.style}" if request.style else ""
    example = [
        {
            "pitch": n.pitch,
            "start": _short(n.start),
            "length": _short(_nearest_length(n.length)),
            "velocity": n.velocity,
        }
        for n in compose_clip(request, theory).in_beats()[:EXAMPLE_NOTES]
    ]
    shape = [list(note.values()) for note in example] if compact else example
    form = "each note as [pitch,start,length,velocity], " if compact else ""
    return (
        f"Write a {request.bars}-bar{style} {request.role} clip in {key} at {bpm:g} BPM, 4/4. "
        f"Notes: pitch {lo}-{hi} (MIDI), start and length in beats (0 to {request.bars * 4}), velocity 1-127. "
        f"Answer with JSON only, {form}like: {json.dumps({'notes': shape}, separators=(',', ':'))}"
    )


def _nearest_length(beats: float) -> float:
    return min((float(x) for x in LENGTHS), key=lambda x: abs(x - beats))


def _short(beats: float) -> int | float:
    """0.0 → 0: numbers as the grammar writes them."""
    return int(beats) if beats == int(beats) else beats


# --- reading a prompt ---------------------------------------------------------------------------------------------


def parse_prompt(text: str) -> ClipRequest:
    """``"4-bar acid bassline in A minor"`` → ClipRequest(bars=4, role="bass", key="A minor", style="acid").

    Bars default to 4 and the key to the set's; a prompt with no role word is an error naming the choices."""
    lowered = " ".join(text.lower().replace("‐", "-").split())
    if not lowered:
        raise ClipError("prompt: empty; say what to write, e.g. '4-bar acid bassline in A minor'")
    words = re.findall(r"[a-z0-9#♯♭]+", lowered)
    role_at = next(((i, ROLE_WORDS[w]) for i, w in enumerate(words) if w in ROLE_WORDS), None)
    if role_at is None:
        choices = "bassline, chords, pad, stab, lead, drums, texture"
        raise ClipError(f"prompt {text!r}: role: say what to write ({choices})")
    bars = DEFAULT_BARS
    count = re.search(r"\b(\d+|" + "|".join(_NUMBERS) + r")[ -]?bars?\b", lowered)
    if count is not None:
        bars = int(count.group(1)) if count.group(1).isdigit() else _NUMBERS[count.group(1)]
        if not 1 <= bars <= MAX_BARS:
            raise ClipError(f"prompt {text!r}: bars: {bars} is not between 1 and {MAX_BARS}")
    key = _key_in(text)
    style_words = [
        w
        for w in re.findall(r"[a-z]+", _without_counts(lowered[: _position(lowered, words[role_at[0]])]))
        if w not in _FILLER
    ]
    return ClipRequest(
        bars=bars,
        role=role_at[1],
        key=key,
        style=" ".join(style_words),
        in_key=_CHROMATIC.search(lowered) is None,
    )


def _key_in(text: str) -> str | None:
    """The key after "in" ("in A minor", "in F#m", "in Bb"), checked; None when the prompt names none. A word
    after the note that reads like a scale ("in A blues") must be one we know."""
    match = re.search(r"\bin\s+([A-Ga-g][#b♯♭]?m?)(?=\s|$|[,.;!?])((?:\s+harmonic)?\s+[a-z]+)?", text)
    if match is None:
        return None
    note, word = match.group(1), (match.group(2) or "").strip().lower()
    if word and (word in SCALE_ALIASES or word.endswith(("ian", "ic", "blues", "scale", "mode"))):
        note = f"{note} {word}"
    elif note[0].islower():
        return None  # "in a club style": an article, not A major
    try:
        _, scale, tonic = parse_key(note)
    except TheoryError as exc:
        raise ClipError(f"prompt {text!r}: {exc}") from None
    return f"{tonic} {scale}"


def _without_counts(text: str) -> str:
    return re.sub(r"\b(\d+|" + "|".join(_NUMBERS) + r")[ -]?bars?\b", " ", text)


def _position(text: str, word: str) -> int:
    match = re.search(r"\b" + re.escape(word) + r"\b", text)
    return match.start() if match else len(text)


# --- repairing an answer ------------------------------------------------------------------------------------------


def repair_clip(
    raw: str | bytes | dict[str, Any] | list[Any],
    role: str,
    theory_or_key: Theory | str | None,
    bars: int,
    *,
    in_key: bool = True,
    beats_per_bar: int = 4,
) -> Clip:
    """Make an LM's answer a playable clip of exactly ``bars`` bars for ``role`` (a track name or a prompt word
    such as ``bassline``), saying what was fixed. Raises ``ClipError`` only when nothing usable is left."""
    track = ROLE_WORDS.get(role, role)
    if track not in CLIP_RANGES:
        raise ClipError(f"role: unknown role {role!r}; valid roles: {', '.join(sorted(CLIP_RANGES))}")
    if not 1 <= bars <= MAX_BARS:
        raise ClipError(f"bars: {bars} is not between 1 and {MAX_BARS}")
    theory = theory_or_key if isinstance(theory_or_key, Theory) else set_theory(0, theory_or_key)
    repairs: list[str] = []
    entries = _entries(raw)
    clip_ticks = bars * beats_per_bar * TICKS_PER_BEAT
    if len(entries) > MAX_NOTES_PER_BAR * bars:
        repairs.append(f"{len(entries) - MAX_NOTES_PER_BAR * bars} notes beyond {MAX_NOTES_PER_BAR} a bar dropped")
        entries = entries[: MAX_NOTES_PER_BAR * bars]
    read = [_note(entry) for entry in entries]
    notes = [n for n in read if n is not None]
    if len(notes) < len(read):
        repairs.append(f"{len(read) - len(notes)} unreadable notes dropped")
    loud = [n for n in notes if not 1 <= n.velocity <= 127]
    if loud:
        repairs.append(f"{len(loud)} velocities clamped to 1-127")
        notes = [msgspec.structs.replace(n, velocity=max(1, min(127, n.velocity))) for n in notes]
    bar_ticks = beats_per_bar * TICKS_PER_BEAT
    inside = [n for n in notes if n.start < clip_ticks]
    if len(inside) < len(notes):
        repairs.append(f"{len(notes) - len(inside)} notes past bar {bars} dropped")
    span = _span(inside, bars, bar_ticks)
    fitted = _fit_lengths(_fit_pitches(inside, track, theory, in_key, repairs), span * bar_ticks, repairs)
    fixed = tidy(fitted, span * bar_ticks, mono=track in MONO)
    merged, shortened = len(fitted) - len(fixed), sum(1 for n in fixed if n not in fitted)
    mono = " (mono bass)" if track in MONO else ""
    if merged:
        repairs.append(f"{merged} notes starting with another dropped{mono}")
    if shortened:
        repairs.append(f"{shortened} notes overlapping the next{mono or ' of their pitch'} shortened")
    if not fixed:
        raise ClipError(f"notes: nothing playable in the answer ({'; '.join(repairs) or 'no notes'})")
    if span < bars:
        repairs.append(f"{span}-bar answer repeated to {bars} bars")
        fixed = tuple(
            msgspec.structs.replace(n, start=n.start + k * span * bar_ticks) for k in range(bars // span) for n in fixed
        )
    return Clip(role=track, key=theory.key, bars=bars, notes=fixed, beats_per_bar=beats_per_bar, repairs=tuple(repairs))


def _entries(raw: str | bytes | dict[str, Any] | list[Any]) -> list[Any]:
    """The list of note-like things in an answer: JSON text (possibly inside prose or a code fence), an object
    with ``notes``, or a bare list."""
    value: Any = raw
    if isinstance(raw, bytes):
        value = raw.decode("utf-8", errors="replace")
    if isinstance(value, str):
        value = _first_json(value)
    if isinstance(value, dict):
        value = value.get("notes")
    if not isinstance(value, list):
        raise ClipError("notes: the answer holds no list of notes")
    return value


def _first_json(text: str) -> Any:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict | list):
            return value
    raise ClipError("notes: the answer is not JSON")


_ALIASES = {"pitch": ("pitch", "note", "midi"), "start": ("start", "time", "start_time", "beat", "onset")}
_ALIASES |= {"length": ("length", "duration", "dur"), "velocity": ("velocity", "vel")}


def _note(entry: Any) -> Note | None:
    """One entry → a note on our grid (start and length rounded to the nearest tick), or None if unreadable."""
    if isinstance(entry, list | tuple) and len(entry) >= 3:
        entry = dict(zip(("pitch", "start", "length", "velocity"), entry, strict=False))
    if not isinstance(entry, dict):
        return None
    fields = {name: next((entry[a] for a in aliases if a in entry), None) for name, aliases in _ALIASES.items()}
    pitch = _pitch(fields["pitch"])
    start, length = _number(fields["start"]), _number(fields["length"])
    velocity = _number(fields["velocity"]) if fields["velocity"] is not None else DEFAULT_VELOCITY
    if pitch is None or start is None or length is None or velocity is None or start < 0:
        return None
    return Note(
        pitch=pitch,
        start=round(start * TICKS_PER_BEAT),
        duration=round(length * TICKS_PER_BEAT),
        velocity=round(velocity),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and value == value and abs(value) < 1e6:
        return float(value)
    return None


def _pitch(value: Any) -> int | None:
    """A MIDI number, or a name such as ``A2`` / ``C#3`` / ``Bb1`` (C4 = 60)."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([A-Ga-g][#b]?)(-?\d)\s*", value)
        if match is not None:
            try:
                root, _, _ = parse_key(match.group(1))
            except TheoryError:
                return None
            return root + 12 * (int(match.group(2)) + 1)
    number = _number(value)
    return None if number is None else round(number)


def _span(notes: list[Note], bars: int, bar_ticks: int) -> int:
    """How many bars the answer fills, rounded up to a whole divisor of ``bars``: a 2-bar answer to a 4-bar ask
    is a 2-bar loop played twice, a 3-bar one fills all 4."""
    used = max((n.start // bar_ticks + 1 for n in notes), default=bars)
    return next(d for d in range(used, bars + 1) if bars % d == 0)


def _fit_pitches(notes: list[Note], track: str, theory: Theory, in_key: bool, repairs: list[str]) -> list[Note]:
    """Into the role's range by octaves, then (unless chromatic was asked, and never for drums) to the nearest
    pitch in key, down on a tie; a pitch pushed out of range again goes the other way."""
    lo, hi = CLIP_RANGES[track]
    moved_range = moved_key = 0
    out = []
    for n in notes:
        pitch = n.pitch
        while pitch < lo:
            pitch += 12
        while pitch > hi:
            pitch -= 12
        pitch = min(max(pitch, lo), hi)
        moved_range += pitch != n.pitch
        if in_key and track != "drums" and not theory.in_key(pitch):
            candidates = [p for p in (pitch - 1, pitch + 1, pitch - 2, pitch + 2) if lo <= p <= hi]
            pitch = next(p for p in candidates if theory.in_key(p))
            moved_key += 1
        out.append(msgspec.structs.replace(n, pitch=pitch))
    if moved_range:
        repairs.append(f"{moved_range} notes moved by octaves into the {track} range {lo}-{hi}")
    if moved_key:
        repairs.append(f"{moved_key} notes moved into {theory.key}")
    return out


def _fit_lengths(notes: list[Note], clip_ticks: int, repairs: list[str]) -> list[Note]:
    """Every note at least a tick long and ending by the clip's end."""
    short = sum(1 for n in notes if n.duration < 1)
    long = sum(1 for n in notes if n.duration >= 1 and n.start + n.duration > clip_ticks)
    if short:
        repairs.append(f"{short} notes without length given a sixteenth")
    if long:
        repairs.append(f"{long} notes past the clip's end shortened")
    return [
        msgspec.structs.replace(
            n, duration=min(n.duration if n.duration >= 1 else TICKS_PER_BEAT // 4, clip_ticks - n.start)
        )
        for n in notes
    ]


# --- when the answer is not enough ----------------------------------------------------------------------------------

MIN_NOTES_PER_BAR = 1
"""An answer with fewer distinct notes than bars is not a clip anyone asked for (SmolLM2 under the grammar often
repeats one note): it is composed from theory instead."""


def compose_clip(request: ClipRequest, theory: Theory, beats_per_bar: int = 4) -> Clip:
    """A clip for ``request`` written by our own figures (the ones live mode plays) over the peak's progression:
    acid, rolling or offbeat basslines by the prompt's words, seventh chords, stabs, a groove, a drone or a pad."""
    style = request.style
    if request.role == "bass":
        figure = next((s for s in ("acid", "rolling", "offbeat") if s in style), "offbeat")
        layers = (Layer("bassline", f"bassline/{figure}", 0.8, kind="loop"),)
    elif request.role == "chords":
        layers = (Layer("chords", "chords/chords", 0.7, kind="loop"),)
    elif request.role == "stab":
        dub = "dub" in style
        sample = "synth/stab_m9_dub" if dub else "synth/stab_m7_short"
        pattern = "syncopated_b" if dub else "offbeat_8ths"
        layers = (Layer("synth", sample, 0.7, hits=pattern_hits(pattern, beats_per_bar)),)
    elif request.role == "drums":
        layers = tuple(
            Layer(role, f"{role}/{role}", gain, hits=pattern_hits(pattern, beats_per_bar))
            for role, gain, pattern in (
                ("kick", 0.9, "four_on_floor"),
                ("hihat", 0.6, "offbeat_8ths"),
                ("clap", 0.5, "backbeat"),
                ("perc", 0.45, "syncopated_a"),
            )
        )
    else:
        sample = "texture/pad" if "pad" in style else "texture/drone"
        layers = (Layer("texture", sample, 0.6, kind="loop"),)
    notes = clip_notes(layers, "peak", theory, request.bars).get(request.role, ())
    return Clip(role=request.role, key=theory.key, bars=request.bars, notes=notes, beats_per_bar=beats_per_bar)


def clip_from_answer(raw: str | bytes | dict[str, Any] | list[Any], request: ClipRequest, theory: Theory) -> Clip:
    """The LM's answer repaired, or, when nothing playable or too little is left, a clip composed from theory;
    either way ``repairs`` says what happened, so nothing is degraded silently."""
    try:
        clip = repair_clip(raw, request.role, theory, request.bars, in_key=request.in_key)
    except ClipError as exc:
        reason = str(exc)
    else:
        distinct = {(n.pitch, n.start % (4 * TICKS_PER_BEAT)) for n in clip.notes}
        if len(distinct) >= MIN_NOTES_PER_BAR * request.bars:
            return clip
        reason = f"notes: only {len(distinct)} distinct notes for {request.bars} bars"
    composed = compose_clip(request, theory)
    return msgspec.structs.replace(composed, repairs=(f"{reason}; composed from {theory.key} instead",))
