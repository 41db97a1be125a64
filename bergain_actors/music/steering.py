"""What a performer's words mean to a brain without a language model: free text → one musical intent.

The LM brains read the words themselves; this is the floor every brain shares, so "darker", "more tension" or
"breakdown now" do something audible even on the autopilot. Pure: a keyword table and a role-name table.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

IntentKind = Literal[
    "darker", "brighter", "energy_up", "energy_down", "breakdown", "drop", "mute", "bring_in", "vary", "unknown"
]


class Intent(msgspec.Struct, frozen=True):
    """One thing to do about a steer: ``role`` names the layer for ``mute`` and ``bring_in``."""

    kind: IntentKind
    role: str = ""


ROLE_WORDS = {
    "kick": "kick",
    "kicks": "kick",
    "bassdrum": "kick",
    "hat": "hihat",
    "hats": "hihat",
    "hihat": "hihat",
    "hihats": "hihat",
    "hi-hat": "hihat",
    "hi-hats": "hihat",
    "bass": "bassline",
    "bassline": "bassline",
    "clap": "clap",
    "claps": "clap",
    "snare": "snare",
    "snares": "snare",
    "perc": "perc",
    "percussion": "perc",
    "ride": "ride",
    "synth": "synth",
    "synths": "synth",
    "lead": "synth",
    "pad": "texture",
    "pads": "texture",
    "texture": "texture",
    "textures": "texture",
    "fx": "fx",
    "effects": "fx",
    "loop": "drum_loop",
    "loops": "drum_loop",
}
"""How people name layers → the mixer's roles."""

OUT_WORDS = ("out", "off", "mute", "kill", "cut", "lose", "no", "without", "stop", "remove")
IN_WORDS = ("in", "add", "more", "bring", "back", "need", "want", "give")

KEYWORDS: tuple[tuple[IntentKind, tuple[str, ...]], ...] = (
    ("breakdown", ("breakdown", "break down", "strip it", "strip down")),
    ("drop", ("drop", "bring it back", "full power", "everything in", "slam")),
    ("darker", ("dark", "deeper", "deep", "moody", "murky", "gloomy", "sinister", "heavier", "warmer")),
    ("brighter", ("bright", "lighter", "airy", "sparkl", "shine", "crisp", "open up", "happier")),
    (
        "energy_up",
        ("tension", "build", "harder", "energy", "intense", "pump", "push", "faster", "peak", "louder", "more"),
    ),
    ("energy_down", ("calm", "chill", "softer", "relax", "cool down", "quieter", "gentle", "less", "mellow")),
    ("vary", ("change", "vary", "switch", "different", "fresh", "something new", "variation", "boring")),
)
"""Checked in order: the first kind with a word in the text wins (so "less tension" is read as less)."""


def intent_of(text: str) -> Intent:
    """The intent a line of free text most plainly asks for (``unknown`` when no rule fits)."""
    lowered = text.lower()
    words = re.findall(r"[a-z][a-z-]*", lowered)
    for index, word in enumerate(words):
        role = ROLE_WORDS.get(word)
        if role is None:
            continue
        near = set(words[max(0, index - 3) : index + 3])
        if near & set(OUT_WORDS) or ("fade" in near and "out" in near):
            return Intent("mute", role)
        if near & set(IN_WORDS):
            return Intent("bring_in", role)
    if re.search(r"\b(less|no more|not so)\b", lowered) and "tension" in lowered:
        return Intent("energy_down")
    for kind, keys in KEYWORDS:
        if any(key in lowered for key in keys):
            return Intent(kind)
    return Intent("unknown")


BRIGHT_ROLES = ("hihat", "ride", "perc", "clap", "snare", "fx", "synth")
"""High-frequency layers, brightest first: what "darker" takes away and "brighter" brings."""
