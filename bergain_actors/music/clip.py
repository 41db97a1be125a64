"""Prompt → MIDI clip, the pure half: what a prompt asks for, and the clip code writes for it.

``parse_prompt`` reads requests such as "4-bar acid bassline in A minor" (or "bajo ácido en re menor", "Basslinie
in a-moll"), refusing what cannot be a clip with the field and the fix: no role, a key that is no key, bars out of
range. The notes come from ``clip_candidates``: figures code writes in the key, among which an LM chooses by the
words (``service.clips``); ``build_clip`` makes the chosen one a ``Clip``. Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import re

import msgspec

from bergain_actors.music.clip_candidates import Candidate
from bergain_actors.music.notes import RANGES, Note
from bergain_actors.music.plan import TICKS_PER_BEAT
from bergain_actors.music.theory import SCALE_ALIASES, Theory, TheoryError, parse_key

MAX_BARS = 32
"""The longest clip anyone may ask for: Ableton clips longer than this are arrangements, not loops."""
DEFAULT_BARS = 4

CLIP_RANGES: dict[str, tuple[int, int]] = {**RANGES, "drums": (35, 81)}
"""Lowest and highest pitch per role (drums: the General MIDI percussion map)."""

ROLE_WORDS: dict[str, str] = {
    # English
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
    # Spanish
    "bajo": "bass",
    "acordes": "chords",
    "acorde": "chords",
    "progresión": "chords",
    "melodía": "stab",
    "arpegio": "stab",
    "batería": "drums",
    "bateria": "drums",
    "ritmo": "drums",
    "percusión": "drums",
    "textura": "texture",
    "atmósfera": "texture",
    # German
    "basslinie": "bass",
    "akkorde": "chords",
    "akkordfolge": "chords",
    "melodie": "stab",
    "schlagzeug": "drums",
    "trommeln": "drums",
    "fläche": "texture",
    "flächen": "texture",
    "textur": "texture",
}
"""Words in a prompt (English, Spanish, German) → the track the clip is for (the first such word wins)."""

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
    "un": 1,
    "uno": 1,
    "dos": 2,
    "cuatro": 4,
    "ocho": 8,
    "ein": 1,
    "zwei": 2,
    "vier": 4,
    "acht": 8,
}
_BAR_WORDS = r"(?:bars?|compases|compás|takte?)"
_FILLER = frozenset(
    {
        "a",
        "an",
        "the",
        "me",
        "please",
        "generate",
        "make",
        "write",
        "give",
        "create",
        "some",
        "new",
        "of",
        "with",
        "line",
        "key",
        "bpm",
    }
    | {"un", "una", "el", "la", "los", "las", "de", "del", "por", "favor", "hazme", "haz"}
    | {"ein", "eine", "einen", "mir", "bitte", "mach", "der", "die", "das"}
)
_STOP = frozenset({"in", "en", "with", "con", "mit", "at", "for", "para", "für"})
"""Words that end a role's trailing adjectives ("bajo ácido en re menor": the style is "ácido")."""
_SOLFEGE = {"do": "C", "re": "D", "mi": "E", "fa": "F", "sol": "G", "la": "A", "si": "B"}
_GERMAN_NOTES = {
    **{n: n.upper() for n in "cdefga"},
    "h": "B",
    "b": "Bb",
    **{f"{n}is": f"{n.upper()}#" for n in "cdfga"},
    **{f"{n}es": f"{n.upper()}b" for n in "dgc"},
    "es": "Eb",
    "as": "Ab",
}
_SCALE_WORD = r"(minor|major|dorian|phrygian|lydian|mixolydian|aeolian|ionian|min|maj)"
_CHROMATIC = re.compile(r"\b(chromatic|atonal|out of key|any key)\b")


class ClipError(ValueError):
    """A prompt that cannot become a clip; the message names the field and the problem."""


class ClipNote(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One note as Ableton takes it: beats from the clip's start."""

    pitch: int
    start: float
    length: float
    velocity: int = 100


class ClipRequest(msgspec.Struct, frozen=True):
    """What a prompt asks for."""

    bars: int
    role: str
    """A track: drums, bass, chords, stab or texture."""
    key: str | None
    """As written in the prompt ("A minor"), or None: the set's key."""
    style: str = ""
    """The prompt's other words about the sound ("acid", "dark rolling"): what the candidates are chosen by."""
    in_key: bool = True
    """False when the prompt asks for chromatic notes."""
    bpm: float | None = None
    """A tempo the prompt names ("at 130 bpm"): a clip has none of its own, so the answer says what plays it."""


class Clip(msgspec.Struct, frozen=True):
    """A playable clip: exactly ``bars`` bars long, its notes in our ticks from the clip's start."""

    role: str
    key: str
    bars: int
    notes: tuple[Note, ...]
    beats_per_bar: int = 4

    def in_beats(self) -> tuple[ClipNote, ...]:
        """The notes as Ableton's ``/live/clip/add/notes`` takes them (pitch, start, duration in beats, velocity)."""
        return tuple(
            ClipNote(n.pitch, n.start / TICKS_PER_BEAT, n.duration / TICKS_PER_BEAT, n.velocity) for n in self.notes
        )


# --- reading a prompt ---------------------------------------------------------------------------------------------


def parse_prompt(text: str) -> ClipRequest:
    """``"4-bar acid bassline in A minor"`` → ClipRequest(bars=4, role="bass", key="A minor", style="acid").

    English, Spanish ("bajo ácido en re menor") and German ("Basslinie in a-moll") prompts are read. Bars default
    to 4 and the key to the set's; a prompt with no role word, a key that is no key ("H minor"), bars out of range,
    or two keys, lengths or tempos that disagree is an error naming the field and the fix."""
    lowered = " ".join(text.lower().replace("‐", "-").split())
    if not lowered:
        raise ClipError("prompt: empty; say what to write, e.g. '4-bar acid bassline in A minor'")
    words = re.findall(r"[^\W_]+|[#♯♭]", lowered)
    role_at = next(((i, ROLE_WORDS[w]) for i, w in enumerate(words) if w in ROLE_WORDS), None)
    if role_at is None:
        choices = "bassline, chords, pad, stab, lead, drums, texture"
        raise ClipError(
            f"prompt {text!r}: role: say what to write ({choices}); prompts in English, Spanish or German are read"
        )
    bars = DEFAULT_BARS
    fraction = re.search(r"\b(\d+[.,]\d+)[ -]?" + _BAR_WORDS + r"(?!\w)", lowered)
    if fraction is not None:  # else "1.5 bar" would read as 5 bars
        raise ClipError(f"prompt {text!r}: bars: {fraction.group(1)} is not a whole number of bars, 1 to {MAX_BARS}")
    counts = re.findall(r"\b(\d+|" + "|".join(_NUMBERS) + r")[ -]?" + _BAR_WORDS + r"(?!\w)", lowered)
    lengths = list(dict.fromkeys(int(c) if c.isdigit() else _NUMBERS[c] for c in counts))
    if len(lengths) > 1:
        raise ClipError(f"prompt {text!r}: bars: {' and '.join(map(str, lengths))} both asked for; say one length")
    if lengths:
        bars = lengths[0]
        if not 1 <= bars <= MAX_BARS:
            raise ClipError(f"prompt {text!r}: bars: {bars} is not between 1 and {MAX_BARS}")
    tempos = list(dict.fromkeys(float(t) for t in re.findall(r"\b(\d+(?:\.\d+)?)\s*-?bpm\b", lowered)))
    if len(tempos) > 1:
        raise ClipError(f"prompt {text!r}: tempo: {' and '.join(f'{t:g}' for t in tempos)} BPM both asked for; say one")
    key, rest = _key_in(text)
    other, _ = _key_in(rest) if key is not None else (None, rest)
    if other is not None and other != key:
        raise ClipError(f"prompt {text!r}: key: {key} and {other} both asked for; say one key")
    lowered = " ".join(rest.lower().replace("‐", "-").split())  # without the key's words: the rest is style
    role_word = words[role_at[0]]
    before = _without_counts(lowered[: _position(lowered, role_word)])
    after = []
    for w in re.findall(r"[^\W\d_]+", _without_counts(lowered[_position(lowered, role_word) + len(role_word) :])):
        if w in _STOP:
            break
        after.append(w)
    style_words = [
        w for w in [*re.findall(r"[^\W\d_]+", before), *after] if w not in _FILLER and ROLE_WORDS.get(w) != role_at[1]
    ]
    return ClipRequest(
        bars=bars,
        role=role_at[1],
        key=key,
        style=" ".join(style_words),
        in_key=_CHROMATIC.search(lowered) is None,
        bpm=tempos[0] if tempos else None,
    )


def _key_in(text: str) -> tuple[str | None, str]:
    """The key ("in A minor", "in F#m", "in Bb", "in the key of D", "D minor bassline"; Spanish "en re menor";
    German "in a-moll", "h-moll"), checked, and the prompt without it; None when the prompt names none. A word
    after the note that reads like a scale ("in A blues") must be one we know, and a scale after a letter that is
    no note ("in H minor") is an error."""

    def without(match: re.Match[str]) -> str:  # the note and scale only: an "in" before them still ends the style
        return f"{text[: match.start(1)]} {text[match.end() :]}"

    spanish = re.search(r"\b(do|re|mi|fa|sol|la|si)\s*(sostenido|bemol|#|b)?\s+(menor|mayor)\b", text, re.IGNORECASE)
    if spanish is not None:
        accidental = {"sostenido": "#", "bemol": "b"}.get((spanish.group(2) or "").lower(), spanish.group(2) or "")
        scale = "minor" if spanish.group(3).lower() == "menor" else "major"
        return _checked(text, f"{_SOLFEGE[spanish.group(1).lower()]}{accidental} {scale}"), without(spanish)
    german = re.search(r"\b([a-h](?:is|es)?|as|es)-(moll|dur)\b", text, re.IGNORECASE)
    if german is not None:
        scale = "minor" if german.group(2).lower() == "moll" else "major"
        return _checked(text, f"{_GERMAN_NOTES[german.group(1).lower()]} {scale}"), without(german)
    match = re.search(
        r"\b(?:in\s+(?:the\s+key\s+of\s+)?|key\s+of\s+)([A-Ga-g][#b♯♭]?m?)(?=\s|$|[,.;!?)])((?:\s+harmonic)?\s+[a-z]+)?",
        text,
    ) or re.search(r"\b([A-G][#b♯♭]?)(?=\s)(\s+" + _SCALE_WORD + r")\b", text)  # "D minor bassline", "(D minor)"
    if match is None:
        nonsense = re.search(r"\bin\s+([A-Za-z][#b♯♭]?)\s+" + _SCALE_WORD + r"\b", text, re.IGNORECASE) or re.search(
            r"\b([H-Z][#b♯♭]?)\s+" + _SCALE_WORD + r"\b", text
        )
        if nonsense is not None:
            raise ClipError(
                f"prompt {text!r}: key: {nonsense.group(1)!r} is not a note; notes are A to G "
                "(with # or b), e.g. 'in B minor' (German h-moll)"
            )
        return None, text
    note, word = match.group(1), (match.group(2) or "").strip().lower()
    if word and (word in SCALE_ALIASES or word.endswith(("ian", "ic", "blues", "scale", "mode"))):
        note = f"{note} {word}"
    elif note[0].islower():
        return None, text  # "in a club style": an article, not A major
    return _checked(text, note), without(match)


def _checked(text: str, key: str) -> str:
    try:
        _, scale, tonic = parse_key(key)
    except TheoryError as exc:
        raise ClipError(f"prompt {text!r}: {exc}") from None
    return f"{tonic} {scale}"


def _without_counts(text: str) -> str:
    return re.sub(r"\b(\d+|" + "|".join(_NUMBERS) + r")[ -]?" + _BAR_WORDS + r"(?!\w)", " ", text)


def _position(text: str, word: str) -> int:
    match = re.search(r"\b" + re.escape(word) + r"\b", text)
    return match.start() if match else len(text)


# --- the clip ------------------------------------------------------------------------------------------------------


def build_clip(request: ClipRequest, theory: Theory, candidate: Candidate, beats_per_bar: int = 4) -> Clip:
    """The chosen candidate as the clip ``request`` asked for."""
    return Clip(
        role=request.role, key=theory.key, bars=request.bars, notes=candidate.notes, beats_per_bar=beats_per_bar
    )
