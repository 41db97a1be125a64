"""What the brief asks of the sound: its intents (``music/intents.py``) turned into a ``Profile`` every brain's
moves follow, whichever brain leads.

A darker brief plays the bright roles (hats, ride, percussion, effects) quieter and chooses them later, a brighter
one the other way round (``Tone``); a sparser one allows fewer layers at once and a denser one more (``cap_shift``);
more or less energy moves the arc's target (``energy_bias``); a hypnotic one turns the groove less often, one
asking for variation more (``variation``). Pure: a function of the reading.
"""

from __future__ import annotations

import msgspec

from bergain_actors.music import arc
from bergain_actors.music.intents import Reading, lexical

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

DARK_GAIN = 0.35
"""How far a fully dark brief turns the brightest roles down (a bright brief turns them up as much, within caps)."""


class Tone(msgspec.Struct, frozen=True):
    """-1 (as dark as it gets) .. 0 (neutral) .. 1 (bright), and the words that said so."""

    brightness: float = 0.0
    words: tuple[str, ...] = ()
    drive: float = 0.0
    """How much louder (or softer, below 0) every layer plays: a brief asking for energy drives the mix."""

    def gain(self, role: str, gain: float) -> float:
        """The gain ``role`` plays at under this brief: bright roles duck for a dark brief, rise for a bright one;
        the low end rises for a dark brief and keeps its weight under a bright one (the floor still needs it)."""
        lean = max(self.brightness * BRIGHTNESS.get(role, 0.0), 0.0 if BRIGHTNESS.get(role, 0.0) < 0 else -1.0)
        return round(min(arc.gain_cap(role), max(0.05, gain * (1.0 + DARK_GAIN * lean) * (1.0 + self.drive))), 3)

    def describe(self) -> str:
        return f"brief {' '.join(self.words) or 'neutral'}"

    def lean(self, role: str) -> float:
        """How much the brief wants ``role`` more (positive) or less (negative) in the mix."""
        return self.brightness * BRIGHTNESS.get(role, 0.0)


BRIGHTNESS_GAIN = 1.5
"""Brightness per unit of probability that the brief asks for a brighter (or darker) sound."""
CAP_SHIFT = {"sparser": -4.0, "denser": 2.0, "energy_up": 2.0, "energy_down": -2.0}
"""Layers allowed at once, moved by the probability the brief asks for a sparser or denser mix."""
ENERGY_BIAS = {"energy_up": 0.15, "energy_down": -0.15}
"""The arc's target energy, moved by the probability of each of these intents."""
DRIVE = {"energy_up": 0.5, "energy_down": -0.5}
"""Every layer's gain, moved by the probability of each of these intents."""
VARIATION = {"vary": 1.0, "hypnotic": -1.0}


class Profile(msgspec.Struct, frozen=True):
    """What a brief (its reading) asks of the whole set."""

    tone: Tone = Tone()
    cap_shift: int = 0
    """Added to each phase's density cap (never below 2)."""
    energy_bias: float = 0.0
    """Added to the arc's energy target."""
    variation: float = 0.0
    """-1 (hypnotic: the groove turns only every other phrase) .. 1 (turns every phrase)."""

    def cap(self, arc_cap: int) -> int:
        return max(2, arc_cap + self.cap_shift)

    def describe(self) -> str:
        return (
            f"tone {self.tone.brightness:+.2f}, layers {self.cap_shift:+d}, energy {self.energy_bias:+.2f}, "
            f"variation {self.variation:+.2f}"
        )


def profile(reading: Reading) -> Profile:
    p = {intent.kind: intent.p for intent in reading.intents}
    brightness = max(-1.0, min(1.0, BRIGHTNESS_GAIN * (p.get("brighter", 0.0) - p.get("darker", 0.0))))
    words = tuple(i.kind for i in reading.intents if i.kind in ("darker", "brighter"))
    shift = round(sum(weight * p.get(kind, 0.0) for kind, weight in CAP_SHIFT.items()))
    bias = round(sum(weight * p.get(kind, 0.0) for kind, weight in ENERGY_BIAS.items()), 4)
    variation = round(sum(weight * p.get(kind, 0.0) for kind, weight in VARIATION.items()), 4)
    drive = round(sum(weight * p.get(kind, 0.0) for kind, weight in DRIVE.items()), 4)
    return Profile(Tone(round(brightness, 3), words, drive), shift, bias, variation)


def tone(brief: str) -> Tone:
    """The tone of a brief read in code alone."""
    return profile(lexical(brief)).tone
