"""What the brief asks of the sound, read in code: a tone from dark to bright that every brain's moves follow.

A brief is words for a person (and for an LM), but a 135M model cannot be trusted to act on "dark". So the
Conductor reads a few words itself and leans the mix: a darker brief plays the bright roles (hats, ride, percussion,
effects) quieter and chooses them later; a brighter one the other way round. Pure: a function of the text.
"""

from __future__ import annotations

import re

import msgspec

from bergain_actors.music import arc

BRIGHTNESS = {
    "hihat": 1.0,
    "ride": 1.0,
    "perc": 0.7,
    "fx": 0.7,
    "clap": 0.6,
    "snare": 0.5,
    "synth": 0.5,
    "drum_loop": 0.4,
    "texture": 0.2,
    "kick": -0.6,
    "bass": -0.8,
    "bassline": -0.8,
}
"""How much each role brightens the mix (-1 dark .. 1 bright): roughly where its energy sits in the spectrum."""

DARK_WORDS = ("dark", "deep", "hypnotic", "minimal", "moody", "murky", "dub", "heavy", "brooding", "sombre", "warm")
BRIGHT_WORDS = (
    "bright",
    "euphoric",
    "uplifting",
    "happy",
    "sunny",
    "shimmering",
    "airy",
    "trance",
    "sparkling",
    "crisp",
)

DARK_GAIN = 0.35
"""How far a fully dark brief turns the brightest roles down (a bright brief turns them up as much, within caps)."""


class Tone(msgspec.Struct, frozen=True):
    """-1 (as dark as it gets) .. 0 (neutral) .. 1 (bright), and the words that said so."""

    brightness: float = 0.0
    words: tuple[str, ...] = ()

    def gain(self, role: str, gain: float) -> float:
        """The gain ``role`` plays at under this brief: bright roles duck for a dark brief, rise for a bright one."""
        lean = self.brightness * BRIGHTNESS.get(role, 0.0)
        return round(min(arc.gain_cap(role), max(0.05, gain * (1.0 + DARK_GAIN * lean))), 3)

    def describe(self) -> str:
        return f"brief {' '.join(self.words) or 'neutral'}"

    def lean(self, role: str) -> float:
        """How much the brief wants ``role`` more (positive) or less (negative) in the mix."""
        return self.brightness * BRIGHTNESS.get(role, 0.0)


def tone(brief: str) -> Tone:
    words = re.findall(r"[a-z]+", brief.lower())
    dark = tuple(w for w in words if w in DARK_WORDS)
    bright = tuple(w for w in words if w in BRIGHT_WORDS)
    score = len(bright) - len(dark)
    return Tone(brightness=max(-1.0, min(1.0, score / 2)), words=dark + bright)
