"""A clip made from a prompt, playing in the set: which of its notes sound in a given bar, as a ``notes`` layer
the renderer's synth voice plays. Pure: the layer of bar N is a function of the clip and N alone."""

from __future__ import annotations

import msgspec

from bergain_actors.music.plan import Layer, Note

CLIP_GAIN = 0.55
"""Under the kick and the bassline samples: a clip joins the mix, it does not take it over."""

PAN = {"bass": 0.0, "chords": -0.25, "stab": 0.3, "texture": -0.4, "lead": 0.2}
"""Low end stays centred; the rest spreads a little so the clip has its own place."""


class PlayingClip(msgspec.Struct, frozen=True):
    role: str
    notes: tuple[Note, ...]
    """Ticks from the clip's start."""
    bars: int
    from_bar: int
    """The set bar where the clip's first bar plays (a phrase boundary)."""
    seq: int = -1
    """The ``ClipAdded`` event it came from."""


def layer_at(clip: PlayingClip, bar: int, bar_ticks: int, gain: float = CLIP_GAIN) -> Layer | None:
    """The clip's layer in set bar ``bar`` (it loops every ``bars``), or None before it starts."""
    if bar < clip.from_bar:
        return None
    offset = ((bar - clip.from_bar) % clip.bars) * bar_ticks
    notes = tuple(
        msgspec.structs.replace(n, start=n.start - offset) for n in clip.notes if offset <= n.start < offset + bar_ticks
    )
    return Layer(
        role=f"clip_{clip.role}",
        sample="",
        gain=gain,
        kind="notes",
        notes=notes,
        pattern="clip",
        loop_start_bar=clip.from_bar,
        pan=PAN.get(clip.role, 0.0),
    )


def next_phrase(bar: int, phrase_bars: int) -> int:
    """The first phrase boundary at or after ``bar``."""
    return -(-bar // phrase_bars) * phrase_bars
