"""Keys, scales, chords and a chord progression per phase of the set: the harmony MIDI outputs play.

A ``Theory`` is plain data chosen once per set by ``set_theory(seed, key)``: the key comes from the user (or is the
shipped pack's A minor, so Ableton and the sample-pack monitor agree), the progressions from the seeded dice. Chords
are stacked thirds inside the scale, so every chord tone is in key. Pure: no I/O, no clock, no global random.
"""

from __future__ import annotations

import re

import msgspec

from bergain_actors.core.rng import rng
from bergain_actors.music.arc import PHASES

PHASE_NAMES: tuple[str, ...] = tuple(p[0] for p in PHASES)

SCALES: dict[str, tuple[int, ...]] = {
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
"""Seven-note scales as semitones above the tonic."""

SCALE_ALIASES = {
    "m": "minor",
    "min": "minor",
    "minor": "minor",
    "aeolian": "minor",
    "natural minor": "minor",
    "": "major",
    "maj": "major",
    "major": "major",
    "ionian": "major",
    "dorian": "dorian",
    "phrygian": "phrygian",
    "lydian": "lydian",
    "mixolydian": "mixolydian",
    "harmonic minor": "harmonic minor",
    "harmonic": "harmonic minor",
}

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

MINOR_PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "intro": ((0, 0, 0, 0), (0, 0, 5, 5), (0, 0, 3, 3)),
    "build": ((0, 0, 5, 6), (0, 3, 0, 6), (0, 5, 3, 6)),
    "peak": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 6, 0)),
    "breakdown": ((5, 3, 0, 6), (3, 5, 2, 6), (5, 6, 0, 0)),
    "peak2": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 6, 0)),
    "outro": ((0, 0, 5, 5), (0, 0, 3, 3), (0, 0, 0, 0)),
}
"""Scale degrees (0 = tonic), one per bar, cycled on the set's 4-bar grid. Minor-family modes: i, VI, VII, iv…"""

MAJOR_PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "intro": ((0, 0, 0, 0), (0, 0, 3, 3), (0, 0, 4, 4)),
    "build": ((0, 0, 3, 4), (0, 5, 3, 4), (0, 3, 0, 4)),
    "peak": ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3)),
    "breakdown": ((5, 3, 0, 4), (3, 4, 5, 5), (1, 4, 0, 0)),
    "peak2": ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3)),
    "outro": ((0, 0, 3, 3), (0, 0, 4, 4), (0, 0, 0, 0)),
}
"""The same for major-family modes (major, lydian, mixolydian): I, vi, IV, V…"""

_MAJOR_FAMILY = frozenset({"major", "lydian", "mixolydian"})

DEFAULT_KEY = "A minor"
"""The shipped pack is in A minor (its basslines, stabs and pad), so MIDI outputs agree with the monitor."""


class TheoryError(ValueError):
    """A key the parser cannot read; the message says what was expected."""


class Theory(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The harmony of one set."""

    root: int
    """Tonic pitch class, 0 = C … 11 = B."""
    scale: str
    """A name in ``SCALES``."""
    progressions: dict[str, tuple[int, ...]]
    """Phase → scale degree of the chord for each bar (bar % length), 0 = the tonic."""
    tonic: str = ""
    """The tonic as the user spelled it (``Bb``), for people reading it; defaults to the sharp spelling."""

    @property
    def key(self) -> str:
        """``"A minor"``: readable, and parsed back by ``parse_key``."""
        return f"{self.tonic or NOTE_NAMES[self.root]} {self.scale}"

    @property
    def intervals(self) -> tuple[int, ...]:
        return SCALES[self.scale]

    def pitch_classes(self) -> frozenset[int]:
        """The scale's pitch classes, for "is it in key" checks."""
        return frozenset((self.root + i) % 12 for i in self.intervals)

    def in_key(self, pitch: int) -> bool:
        return pitch % 12 in self.pitch_classes()

    def offset(self, degree: int) -> int:
        """Semitones from the tonic to scale degree ``degree`` (any integer: 7 is the octave, -1 the leading tone)."""
        octave, step = divmod(degree, len(self.intervals))
        return 12 * octave + self.intervals[step]

    def degree_at(self, phase: str, bar: int) -> int:
        """The chord's scale degree at ``bar`` (an unknown phase plays the tonic)."""
        progression = self.progressions.get(phase) or (0,)
        return progression[bar % len(progression)]

    def chord(self, degree: int, size: int = 3) -> tuple[int, ...]:
        """The chord on ``degree`` as semitones above its own root: ``size`` stacked thirds inside the scale
        (3 a triad, 4 a seventh, 5 a ninth)."""
        base = self.offset(degree)
        return tuple(self.offset(degree + 2 * k) - base for k in range(size))

    def chord_root(self, degree: int) -> int:
        """Pitch class of the chord on ``degree``."""
        return (self.root + self.offset(degree)) % 12

    def chord_name(self, degree: int) -> str:
        """``Am7``-style name of the seventh chord on ``degree`` (for people and prompts)."""
        third, fifth, seventh = self.chord(degree, 4)[1:]
        quality = {(4, 7): "", (3, 7): "m", (3, 6): "dim", (4, 8): "aug"}.get((third, fifth), "?")
        if quality == "" and seventh == 11:
            suffix = "maj7"
        elif quality == "dim" and seventh == 10:
            quality, suffix = "m", "7b5"
        else:
            suffix = "7"
        return f"{NOTE_NAMES[self.chord_root(degree)]}{quality}{suffix}"


def parse_key(text: str) -> tuple[int, str, str]:
    """``"A minor"``, ``"F# dorian"``, ``"Bbm"``, ``"c major"`` → (tonic pitch class, scale, tonic spelling).

    Raises ``TheoryError`` naming what was expected."""
    match = re.fullmatch(r"\s*([A-Ga-g])([#b♯♭]?)\s*(.*?)\s*", text)
    if match is None:
        raise TheoryError(f"key {text!r}: expected a note A-G (with # or b) and a scale, e.g. 'A minor', 'F# dorian'")
    letter, accidental, rest = match.group(1).upper(), match.group(2), match.group(3)
    scale = SCALE_ALIASES.get(re.sub(r"\s+", " ", rest.lower()))
    if scale is None:
        raise TheoryError(f"key {text!r}: unknown scale {rest!r}; valid scales: {', '.join(SCALES)}")
    shift = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
    spelled = letter + {"♯": "#", "♭": "b"}.get(accidental, accidental)
    return (_NATURALS[letter] + shift) % 12, scale, spelled


def set_theory(seed: int, key: str | None = None) -> Theory:
    """The harmony of a set: ``key`` (default ``DEFAULT_KEY``), and one progression per phase drawn from the
    seeded dice; the second peak never repeats the first one's progression."""
    root, scale, tonic = parse_key(key or DEFAULT_KEY)
    table = MAJOR_PROGRESSIONS if scale in _MAJOR_FAMILY else MINOR_PROGRESSIONS
    chosen: dict[str, tuple[int, ...]] = {}
    for phase in PHASE_NAMES:
        options = [p for p in table[phase] if not (phase == "peak2" and p == chosen.get("peak"))]
        chosen[phase] = rng(seed, "theory", 0, f"progression:{phase}").choice(options)
    return Theory(root=root, scale=scale, progressions=chosen, tonic=tonic)
