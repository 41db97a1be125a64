"""Palette mode's grid: a row of scenes from intro through the peaks to the outro, each a set of looping clips.

The scenes are plain data (name, phase, the layers that play, and so their energy); their clips are the notes
``bar_notes`` gives for those layers over ``CLIP_BARS`` bars of the phase's progression, so palette and live mode
sound alike.
During a set, ``scene_for`` picks the scene that fits the Conductor's phase and energy.
"""

from __future__ import annotations

import msgspec

from bergain_actors.music import arc
from bergain_actors.music.notes import TRACKS, Note, bar_notes
from bergain_actors.music.patterns import PATTERNS
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Layer
from bergain_actors.music.theory import Theory

CLIP_BARS = 4
"""Each clip loops over four bars: one turn of a phase's progression."""


def _hit(role: str, sample: str, gain: float, pattern: str) -> Layer:
    return Layer(role=role, sample=sample, gain=gain, hits=PATTERNS[pattern], pattern=pattern)


def _loop(role: str, sample: str, gain: float) -> Layer:
    return Layer(role=role, sample=sample, gain=gain, kind="loop", pattern="loop")


KICK = _hit("kick", "kick/kick_punch_A.wav", 0.9, "four_on_floor")
HATS = _hit("hihat", "hihat/hat_closed_tight.wav", 0.57, "offbeat_8ths")
HATS_16 = _hit("hihat", "hihat/hat_closed_tight.wav", 0.57, "sixteenths")
CLAP = _hit("clap", "clap/clap_909.wav", 0.47, "backbeat")
PERC = _hit("perc", "perc/rim_shot.wav", 0.42, "syncopated_a")
RIDE = _hit("ride", "ride/ride_wash.wav", 0.45, "straight_8ths")
TOPS = _loop("drum_loop", "drum_loop/drum_loop_tops_128bpm_1bar_loop.wav", 0.5)
OFFBEAT_BASS = _loop("bassline", "bassline/bassline_offbeat_A_128bpm_2bar_loop.wav", 0.67)
ROLLING_BASS = _loop("bassline", "bassline/bassline_rolling_A_128bpm_1bar_loop.wav", 0.67)
ACID_BASS = _loop("bassline", "bassline/bassline_acid_A_128bpm_2bar_loop.wav", 0.67)
STAB = _hit("synth", "synth/stab_Am7_short.wav", 0.4, "sparse_accent")
DUB_STAB = _hit("synth", "synth/stab_Am9_dub.wav", 0.4, "syncopated_b")
PAD = _loop("texture", "texture/pad_Am9_128bpm_4bar_loop.wav", 0.38)
DRONE = _loop("texture", "texture/atmos_dark_128bpm_2bar_loop.wav", 0.38)
CHORDS = _loop("chords", "chords/pad_sustain", 0.35)


class SceneSpec(msgspec.Struct, frozen=True):
    """One row of the grid, before it has notes."""

    name: str
    phase: str
    """The part of the set it belongs to; its progression gives the clips' chords."""
    layers: tuple[Layer, ...]

    @property
    def energy(self) -> float:
        """How hard it hits, 0..1, measured as the arc measures a bar (not a label someone typed)."""
        return arc.energy(self.layers)


SCENES: tuple[SceneSpec, ...] = (
    SceneSpec("intro", "intro", (KICK, HATS, DRONE)),
    SceneSpec("warm-up", "intro", (KICK, HATS, PERC, DRONE)),
    SceneSpec("build", "build", (KICK, HATS, OFFBEAT_BASS, PERC, DRONE)),
    SceneSpec("build-up", "build", (KICK, HATS_16, ROLLING_BASS, PERC, CLAP, CHORDS)),
    SceneSpec("peak", "peak", (KICK, HATS, ACID_BASS, CLAP, PERC, RIDE, STAB)),
    SceneSpec("breakdown", "breakdown", (PAD, DUB_STAB, HATS)),
    SceneSpec("peak2", "peak2", (KICK, HATS_16, ACID_BASS, CLAP, TOPS, RIDE, DUB_STAB, CHORDS)),
    SceneSpec("outro", "outro", (KICK, HATS, PAD)),
    SceneSpec("fade", "outro", (KICK, DRONE)),
)
"""The grid, top to bottom in the order a set plays it."""


class Scene(msgspec.Struct, frozen=True):
    """A scene with its clips: track → notes over ``bars`` bars (ticks from the clip's start)."""

    name: str
    phase: str
    energy: float
    """As ``SceneSpec.energy``."""
    bars: int
    clips: dict[str, tuple[Note, ...]]
    """Only the tracks that play in this scene; the others' slots stay empty (Live stops them)."""

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(track for track in TRACKS if track in self.clips)


def build_palette(theory: Theory, bpm: float = 128.0, bars: int = CLIP_BARS) -> tuple[Scene, ...]:
    """Every scene of the grid with its clips in ``theory``'s key and progressions."""
    return tuple(_scene(spec, theory, bpm, bars) for spec in SCENES)


def _scene(spec: SceneSpec, theory: Theory, bpm: float, bars: int) -> Scene:
    return Scene(
        name=spec.name,
        phase=spec.phase,
        energy=spec.energy,
        bars=bars,
        clips=clip_notes(spec.layers, spec.phase, theory, bars, bpm),
    )


def clip_notes(
    layers: tuple[Layer, ...], phase: str, theory: Theory, bars: int, bpm: float = 128.0
) -> dict[str, tuple[Note, ...]]:
    """What ``layers`` play over ``bars`` bars of ``phase``'s progression, per track (ticks from the clip's start);
    tracks with no notes are left out."""
    clips: dict[str, list[Note]] = {}
    for bar in range(bars):
        plan = BarPlan(bar=bar, bpm=bpm, layers=layers, phase=phase)
        offset = bar * plan.beats_per_bar * TICKS_PER_BEAT
        for track, notes in bar_notes(plan, theory).items():
            if notes:
                clips.setdefault(track, []).extend(msgspec.structs.replace(n, start=n.start + offset) for n in notes)
    return {track: tuple(notes) for track, notes in clips.items()}


def scene_for(phase: str, energy: float) -> int:
    """The index of the scene that fits: among the phase's scenes the nearest in energy (ties: the earlier one);
    for a phase the grid does not know, the nearest in energy of all."""
    candidates = [i for i, s in enumerate(SCENES) if s.phase == phase] or list(range(len(SCENES)))
    return min(candidates, key=lambda i: (abs(SCENES[i].energy - energy), i))
