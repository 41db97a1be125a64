"""What one bar should sound like: the contract between the Conductor and the renderer.

Positions are integer ticks so plans compare exactly and replay bit for bit.
"""

from __future__ import annotations

from typing import Literal

import msgspec

TICKS_PER_BEAT = 96
"""Ticks per quarter note: divisible by 2, 3, 4 and 8, so straight, triplet and 32nd grids are exact."""


class Note(msgspec.Struct, frozen=True, order=True):
    """One MIDI note inside a bar. Ableton takes ``start`` and ``duration`` in beats: divide by TICKS_PER_BEAT."""

    pitch: int
    start: int
    """Ticks from the bar's start."""
    duration: int
    """Ticks, >= 1."""
    velocity: int
    """1..127."""


class Filter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A resonant low- or high-pass on one layer for one bar; the cutoff glides (geometrically, per beat) from
    ``hz`` at the bar's start to ``hz_end`` at its end, so a sweep over N bars is N plans."""

    kind: Literal["lowpass", "highpass"]
    hz: float
    hz_end: float
    q: float = 0.9
    """Resonance: 0.707 is flat, higher peaks at the cutoff."""


class Layer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One sounding channel in one bar."""

    role: str
    """kick, hihat, clap, snare, perc, bassline, synth, texture, fx, drum_loop, ride, ..."""
    sample: str
    """Sample id: its path relative to the pack root, with forward slashes."""
    gain: float
    """Linear gain, 0..1 (the Conductor's tools clamp it)."""
    kind: Literal["hit", "loop", "notes"] = "hit"
    """`hit`: the sample is triggered at each tick in `hits`; `loop`: it plays continuously; `notes`: ``notes``
    played by the synth voice (a clip made from a prompt; ``sample`` is empty)."""
    hits: tuple[int, ...] = ()
    """Onsets in ticks from the start of the bar (0 <= t < beats_per_bar * TICKS_PER_BEAT)."""
    pattern: str = ""
    """Name of the pattern the hits came from, for people reading the log."""
    loop_start_bar: int = 0
    """For loops: the set bar at which the loop's first bar played; bar N plays loop bar (N - start) mod length."""
    pan: float = 0.0
    """-1 left .. +1 right (constant-power)."""
    notes: tuple[Note, ...] = ()
    """For `notes` layers: what the voice plays in this bar (starts may not leave the bar; tails ring on)."""
    width: float = 0.0
    """0 plays the sample as recorded; up to 1 adds that much decorrelated side above 150 Hz (mid/side, the same
    power and mono sum)."""
    gain_end: float | None = None
    """Automation: the gain at the bar's end; the level ramps linearly from ``gain`` (None: steady)."""
    send: float = 0.0
    """How much of the layer feeds the stereo ping-pong delay, 0..1."""
    reverb: float = 0.0
    """How much of the layer goes through the stereo reverb (wet level against the dry), 0..1."""
    filter: Filter | None = None


class BarPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the renderer needs for one bar: pure data, no sample bytes."""

    bar: int
    bpm: float
    beats_per_bar: int = 4
    layers: tuple[Layer, ...] = ()
    phase: str = ""
    """Where the set is in its arc (intro, build, peak, breakdown, peak2, outro)."""
    energy: float = 0.0
    """The Conductor's own energy estimate for the bar, 0..1."""
    target: float = 0.0
    """The energy the Conductor aimed at (the arc's target, moved by a person's steering; 0: not recorded)."""
