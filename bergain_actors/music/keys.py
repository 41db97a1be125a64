"""Which pitch classes a sample sounds, and whether it fits the set's key: a sample swap must keep the key.

A sample's pitch classes come from its name when the name says them (``kick_deep_F``, ``bass_pluck_C2``,
``stab_Dm7_chord``: a note, or a chord as root and quality), otherwise from its audio at load: the chroma of the
whole sample (power per pitch class, 30 Hz–2 kHz), keeping the classes with at least ``CHROMA_SHARE`` of the
strongest. A sample with less than ``BAND_SHARE`` of its power in that band (hats, shakers), or whose chroma
spreads over more than ``MAX_CLASSES`` classes (claps, risers), is noise: it has no pitch. The estimate is a
deterministic function of the decoded samples, rounded to whole pitch classes.

Only the roles a listener hears in pitch are held to the key (``KEYED_ROLES``: the kick's tail, the bass, chords,
pads); drums and percussion fit any key. Pure: numpy and names, no I/O.
"""

from __future__ import annotations

import math
import re

import numpy as np

from bergain_actors.music.theory import SCALES, parse_key

KEYED_ROLES = frozenset({"kick", "bass", "bassline", "synth", "texture"})
"""Roles whose samples must fit the set's key."""

CHROMA_SHARE = 0.4
"""A pitch class is sounded when its chroma holds at least this share of the strongest class's."""
MAX_CLASSES = 6
"""More sounded classes than this is a smear, not a chord: no pitch."""
BAND_SHARE = 0.3
"""Below this share of its power between LOW_HZ and HIGH_HZ a sample is heard as noise, not as a pitch."""
LOW_HZ, HIGH_HZ = 30.0, 2000.0

_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0,),
    "m": (0, 3, 7),
    "min": (0, 3, 7),
    "maj": (0, 4, 7),
    "dim": (0, 3, 6),
    "5": (0, 7),
    "7": (0, 4, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "m7": (0, 3, 7, 10),
    "min7": (0, 3, 7, 10),
    "m9": (0, 3, 7, 10, 14),
    "min9": (0, 3, 7, 10, 14),
    "maj7": (0, 4, 7, 11),
    "maj9": (0, 4, 7, 11, 14),
}
"""Intervals of a chord by the quality its name gives; a bare note (``A``, ``E1``) is its root alone."""
_TOKEN = re.compile(r"([A-G])([#b]?)(maj9|maj7|maj|min9|min7|min|m9|m7|m|dim|5|7|9)?(-?\d)?")


def from_name(stem: str) -> tuple[int, ...] | None:
    """The pitch classes a file name gives (its first note or chord token), or None if it names none."""
    for token in re.split(r"[_\-\s.]+", stem):
        match = _TOKEN.fullmatch(token)
        if match is not None:
            letter, accidental, quality, _octave = match.groups()
            root = (_NATURALS[letter] + {"#": 1, "b": -1}.get(accidental, 0)) % 12
            return tuple(sorted({(root + i) % 12 for i in _QUALITIES[quality or ""]}))
    return None


def estimate(data: np.ndarray, rate: int) -> tuple[int, ...]:
    """The pitch classes a decoded sample (frames, channels) sounds, from its chroma; () when it has no pitch."""
    mono = _mean_of_channels(data)
    if mono.size == 0 or not np.any(mono):
        return ()
    n = max(1 << 16, 1 << math.ceil(math.log2(mono.size)))
    mono *= np.hanning(mono.size)
    power = np.abs(np.fft.rfft(mono, n))
    power *= power
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = (freqs >= LOW_HZ) & (freqs <= HIGH_HZ)
    classes = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(np.int64) % 12
    chroma = np.bincount(classes, weights=power[band], minlength=12)
    if chroma.max() <= 0 or chroma.sum() < BAND_SHARE * power.sum():
        return ()
    sounded = np.flatnonzero(chroma >= CHROMA_SHARE * chroma.max())
    return tuple(int(c) for c in sounded) if len(sounded) <= MAX_CLASSES else ()


def _mean_of_channels(data: np.ndarray) -> np.ndarray:
    """``data.astype(float64).mean(axis=1)``, the same numbers (the channels summed in order, then divided), without
    a float64 copy of every channel: a set's process estimates its pack's pitches at its start, where the largest
    sample's transients made most of its peak RSS."""
    mono = data[:, 0].astype(np.float64)
    for channel in range(1, data.shape[1]):
        mono += data[:, channel]
    mono /= data.shape[1]
    return mono


def pitch_classes(stem: str, data: np.ndarray, rate: int) -> tuple[tuple[int, ...], str]:
    """(pitch classes, where they came from: ``name``, ``estimate``, or ``""`` for no pitch)."""
    named = from_name(stem)
    if named is not None:
        return named, "name"
    estimated = estimate(data, rate)
    return estimated, "estimate" if estimated else ""


def scale_of(key: str) -> frozenset[int]:
    """The pitch classes of a key (``"A minor"``)."""
    root, scale, _ = parse_key(key)
    return frozenset((root + i) % 12 for i in SCALES[scale])


def clashes(role: str, pitches: tuple[int, ...], scale: frozenset[int]) -> int:
    """How many of a sample's pitch classes fall outside the key (0 for a role that is not held to it)."""
    return sum(1 for p in pitches if p not in scale) if role in KEYED_ROLES else 0
