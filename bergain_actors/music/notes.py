"""One bar plan as MIDI notes per Ableton track: what live mode writes into clips and ``replay --midi`` exports.

Drums come from the plan's hits through a General MIDI drum map; bass, chords, stabs and texture from the set's
``Theory``: the phase's chord for the bar, played with the figure of the sample the plan chose (the pack's acid,
offbeat and rolling basslines, its pads, drones and stabs, transposed to follow the chord). Velocity follows the
layer's gain, or with ``relative`` its gain against the loudest layer of its track (``track_levels``: what live
mode sets as the track's volume, so a gain counts once). Every note lies inside its bar, and no two notes of one
pitch overlap, so bars concatenate into valid clips and files. Pure and deterministic: the same plan and theory
give the same notes. A set's theory is ``set_theory(scenario.seed, scenario.key)``: live mode and ``replay --midi``
must both derive it so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Layer, Note
from bergain_actors.music.theory import Theory

TRACKS: tuple[str, ...] = ("drums", "bass", "chords", "stab", "texture")
"""The Ableton tracks a set plays on, in the order they are created."""

TRACK_OF: dict[str, str] = {
    "kick": "drums",
    "hihat": "drums",
    "clap": "drums",
    "snare": "drums",
    "perc": "drums",
    "ride": "drums",
    "drum_loop": "drums",
    "hat_loop": "drums",
    "fx": "drums",
    "bassline": "bass",
    "bass": "bass",
    "pad": "chords",
    "pads": "chords",
    "chords": "chords",
    "synth": "stab",
    "stab": "stab",
    "texture": "texture",
}
"""Plan role → track. A one-shot role not listed plays a GM percussion note on the drums."""

GM_DRUMS: dict[str, int] = {
    "kick": 36,
    "rim": 37,
    "snare": 38,
    "clap": 39,
    "closed_hat": 42,
    "tom_low": 45,
    "open_hat": 46,
    "perc": 47,
    "crash": 49,
    "tom_high": 50,
    "ride": 51,
    "ride_bell": 53,
    "cowbell": 56,
    "crash2": 57,
    "conga_high": 63,
    "triangle": 81,
    "shaker": 82,
}
"""General MIDI percussion (channel 10) notes by sound."""

_SAMPLE_SOUNDS: tuple[tuple[str, str], ...] = (
    ("open", "open_hat"),
    ("bell", "ride_bell"),
    ("conga", "conga_high"),
    ("cowbell", "cowbell"),
    ("rim", "rim"),
    ("shaker", "shaker"),
    ("tom_high", "tom_high"),
    ("tom_low", "tom_low"),
    ("ping", "triangle"),
    ("impact", "crash"),
    ("boom", "crash"),
)
"""Words in a sample's name that pick a more specific drum sound than its role's."""

_ROLE_SOUND = {"kick": "kick", "hihat": "closed_hat", "clap": "clap", "snare": "snare", "ride": "ride", "fx": "crash2"}

RANGES: dict[str, tuple[int, int]] = {"bass": (24, 60), "chords": (45, 84), "stab": (45, 88), "texture": (28, 84)}
"""Lowest and highest MIDI pitch each melodic track plays (inclusive)."""

SIXTEENTH = TICKS_PER_BEAT // 4
SWING = 3
"""The pack's drum loops push their off-sixteenths by 0.035 of a beat: 3 ticks."""


def velocity(gain: float, level: float = 1.0) -> int:
    """A layer's linear gain (0..1) and a note's accent level (0..1) → MIDI velocity 1..127."""
    return max(1, min(127, round((20 + 107 * min(max(gain, 0.0), 1.0)) * level)))


def unplayed(plan: BarPlan) -> tuple[str, ...]:
    """Roles of ``plan`` that ``bar_notes`` has no notes for (a loop of a role no track knows), to be reported."""
    return tuple(layer.role for layer in plan.layers if track_for(layer) is None and peak(layer) > 0)


def track_for(layer: Layer) -> str | None:
    """The track a layer plays on; ``None`` for a loop of a role no track knows (nothing to derive notes from)."""
    if layer.kind == "notes":  # a prompt's clip: ``clip_<track>``
        track = layer.role.removeprefix("clip_")
        return track if track in TRACKS else None
    track = TRACK_OF.get(layer.role)
    if track is None and layer.kind == "hit":
        return "drums"
    return track


def track_levels(plan: BarPlan, at: float = 0.0) -> dict[str, float]:
    """Each sounding track's level: the gain of its loudest layer ``at`` this share of the bar (0 its start, 1 its
    end: a fading layer ramps from ``gain`` to ``gain_end``). Prompt clips carry their own velocities: not counted."""
    levels: dict[str, float] = {}
    for layer in plan.layers:
        track = track_for(layer)
        if track is None or peak(layer) <= 0 or layer.kind == "notes":
            continue
        end = layer.gain if layer.gain_end is None else layer.gain_end
        gain = layer.gain + (end - layer.gain) * min(max(at, 0.0), 1.0)
        levels[track] = max(levels.get(track, 0.0), gain)
    return levels


def peak(layer: Layer) -> float:
    """A layer's loudest gain in the bar (a fade's start or end)."""
    return layer.gain if layer.gain_end is None else max(layer.gain, layer.gain_end)


def bar_notes(plan: BarPlan, theory: Theory, relative: bool = False) -> dict[str, tuple[Note, ...]]:
    """Every track's notes for one bar, sorted by (start, pitch); a silent track has an empty tuple. With
    ``relative``, velocities follow each layer's gain against its track's level (the track's volume carries the
    level itself)."""
    bar_ticks = plan.beats_per_bar * TICKS_PER_BEAT
    degree = theory.degree_at(plan.phase, plan.bar)
    found: dict[str, list[Note]] = {track: [] for track in TRACKS}
    levels: dict[str, float] = {}
    for layer in plan.layers:
        track = track_for(layer)
        if relative and track is not None and layer.kind != "notes":
            levels[track] = max(levels.get(track, 0.0), peak(layer))
    for layer in plan.layers:
        track = track_for(layer)
        if track is None or peak(layer) <= 0:
            continue
        if layer.kind != "notes":  # a layer fading in plays its notes at the bar's peak; the volume does the fade
            gain = peak(layer) / levels[track] if track in levels else peak(layer)
            layer = msgspec.structs.replace(layer, gain=min(1.0, gain))
        loop_bar = (plan.bar - layer.loop_start_bar) % _loop_bars(layer.sample)
        if layer.kind == "notes":
            notes = layer.notes
        elif track == "drums":
            notes = _drums(layer, loop_bar)
        elif track == "bass":
            notes = _bass(layer, theory, degree, loop_bar, bar_ticks)
        elif track == "stab":
            notes = _stab(layer, theory, degree, bar_ticks)
        else:
            notes = _held(layer, theory, degree, track, bar_ticks)
        found[track].extend(n for n in notes if 0 <= n.start < bar_ticks)
    return {track: tidy(notes, bar_ticks, mono=track == "bass") for track, notes in found.items()}


def tidy(notes: Iterable[Note], bar_ticks: int, mono: bool = False) -> tuple[Note, ...]:
    """Sorted notes that end inside the bar, one per (pitch, start) (the loudest), none overlapping another of
    its pitch; with ``mono``, none overlapping any other note (a mono bass)."""
    best: dict[tuple[int, int], Note] = {}
    for n in notes:
        n = msgspec.structs.replace(n, duration=max(1, min(n.duration, bar_ticks - n.start)))
        key = (n.start, n.pitch) if not mono else (n.start, 0)
        held = best.get(key)
        if held is None or (n.velocity, n.duration, -n.pitch) > (held.velocity, held.duration, -held.pitch):
            best[key] = n
    ordered = sorted(best.values(), key=lambda n: (n.start, n.pitch))
    out: list[Note] = []
    for i, n in enumerate(ordered):
        later = (m.start for m in ordered[i + 1 :] if mono or m.pitch == n.pitch)
        nxt = next(later, None)
        if nxt is not None and n.start + n.duration > nxt:
            n = msgspec.structs.replace(n, duration=nxt - n.start)
        out.append(n)
    return tuple(out)


# --- drums --------------------------------------------------------------------------------------------------------


def drum_pitch(layer: Layer) -> int:
    """The GM note for a one-shot drum layer: a word in its sample's name, else its role, else a low-mid tom."""
    name = layer.sample.rsplit("/", 1)[-1].lower()
    for word, sound in _SAMPLE_SOUNDS:
        if word in name:
            return GM_DRUMS[sound]
    return GM_DRUMS[_ROLE_SOUND.get(layer.role, "perc")]


def _accent(role: str, tick: int) -> float:
    """Groove: on hats, rides and percussion the offbeat eighths lead, beats follow and sixteenths whisper."""
    if role not in ("hihat", "ride", "perc"):
        return 1.0
    within = tick % TICKS_PER_BEAT
    return 1.0 if within == TICKS_PER_BEAT // 2 else 0.85 if within == 0 else 0.7


def _drums(layer: Layer, loop_bar: int) -> list[Note]:
    if layer.kind == "loop":
        figure = _DRUM_LOOPS["tops" if "tops" in layer.sample or layer.role == "hat_loop" else "groove"]
        return [
            Note(GM_DRUMS[sound], tick, SIXTEENTH, velocity(layer.gain, level))
            for bar, tick, sound, level in figure
            if bar == loop_bar % (1 + max(b for b, *_ in figure))
        ]
    pitch = drum_pitch(layer)
    return [Note(pitch, t, SIXTEENTH, velocity(layer.gain, _accent(layer.role, t))) for t in layer.hits]


def _groove() -> tuple[tuple[int, int, str, float], ...]:
    """The pack's two-bar groove loop (kick, open hats, swung closed sixteenths, claps, shaker) as notes."""
    out = []
    for bar in range(2):
        for beat in range(4):
            t = beat * TICKS_PER_BEAT
            out.append((bar, t, "kick", 1.0))
            out.append((bar, t + 2 * SIXTEENTH, "open_hat", 0.75))
            for step, level in ((0, 0.6), (1, 0.45), (2, 0.55), (3, 0.5)):
                out.append((bar, t + step * SIXTEENTH + (SWING if step % 2 else 0), "closed_hat", level))
            if beat % 2:
                out.append((bar, t, "clap", 0.9))
        out.append((bar, 15 * SIXTEENTH + SWING, "shaker", 0.55))
    out.append((1, 15 * SIXTEENTH, "clap", 0.6))
    return tuple(out)


def _tops() -> tuple[tuple[int, int, str, float], ...]:
    """The pack's one-bar tops loop: swung closed hats, open hats on the offbeat, shaker, rims and congas."""
    out = []
    for beat in range(4):
        t = beat * TICKS_PER_BEAT
        out += [(0, t + SIXTEENTH + SWING, "closed_hat", 0.55), (0, t + 2 * SIXTEENTH, "open_hat", 0.8)]
        out.append((0, t + 3 * SIXTEENTH + SWING, "shaker", 0.6))
    out += [(0, 3 * SIXTEENTH, "rim", 0.8), (0, 9 * SIXTEENTH, "rim", 0.75)]
    out += [(0, 6 * SIXTEENTH, "conga_high", 0.8), (0, 13 * SIXTEENTH, "conga_high", 0.7)]
    return tuple(out)


_DRUM_LOOPS = {"groove": _groove(), "tops": _tops()}


# --- bass ---------------------------------------------------------------------------------------------------------

_ACID = "7 . 0 0 . 9 0 . 3 . 0 4 . 0 6 . 7 0 . 0 2 . 7 . 4 0 . 10 0 . -1 0"
"""The pack's acid line in scale steps above the chord's root, one per sixteenth over two bars (``.`` rests)."""

BASS_FIGURES: dict[str, tuple[tuple[int, int, int, float], ...]] = {
    # (tick in the loop, length in ticks, scale steps above the chord's root, accent level)
    "acid": tuple(
        (i * SIXTEENTH, 21, int(s), 1.0 if i % 3 == 0 else 0.7) for i, s in enumerate(_ACID.split()) if s != "."
    ),
    "offbeat": tuple(
        (b * TICKS_PER_BEAT + TICKS_PER_BEAT // 2, 36, s, 1.0) for b, s in enumerate((0, 0, 0, 2, 0, 0, -1, -3))
    ),
    "rolling": tuple(
        (b * TICKS_PER_BEAT + o * SIXTEENTH, 18, 7 if (b, o) == (3, 3) else 0, 1.0 if o == 1 else 0.8)
        for b in range(4)
        for o in (1, 2, 3)
    ),
}
"""The pack's basslines as figures that follow the chord: tick 384 and later is the loop's second bar. Lengths
are whole 32nds (multiples of 3 ticks), like every straight position here, so they are exact in the 32-bit float
beats OSC carries to Live."""


def bass_root(theory: Theory, degree: int) -> int:
    """The chord's root in the bass register: the lowest such note from F#1 (30) up, so the figures' lowest step
    (three scale steps down: up to a tritone) and highest (ten steps up: up to an octave and a tritone) stay inside
    the bass range in every mode."""
    return 30 + (theory.chord_root(degree) - 6) % 12


def _step(theory: Theory, degree: int, steps: int) -> int:
    """Semitones from the chord on ``degree``'s root to ``steps`` scale steps above it (in key by construction)."""
    return theory.offset(degree + steps) - theory.offset(degree)


def _bass(layer: Layer, theory: Theory, degree: int, loop_bar: int, bar_ticks: int) -> list[Note]:
    root = bass_root(theory, degree)
    if layer.kind == "hit":
        hits = layer.hits
        ends = (*hits[1:], bar_ticks)
        return [
            Note(root, t, min(end - t, TICKS_PER_BEAT // 2), velocity(layer.gain))
            for t, end in zip(hits, ends, strict=True)
        ]
    style = next((s for s in BASS_FIGURES if s in layer.sample), "offbeat")
    figure = BASS_FIGURES[style]
    loop_ticks = 4 * TICKS_PER_BEAT
    bars = 1 + max(t for t, *_ in figure) // loop_ticks
    offset = (loop_bar % bars) * loop_ticks
    return [
        Note(root + _step(theory, degree, steps), t - offset, length, velocity(layer.gain, level))
        for t, length, steps, level in figure
        if offset <= t < offset + loop_ticks
    ]


# --- chords, stabs, texture ---------------------------------------------------------------------------------------


def voicing(theory: Theory, degree: int, size: int, low: int) -> tuple[int, ...]:
    """The chord on ``degree`` in close position: its root is the lowest such note from ``low`` up, each further
    tone the next one above the previous."""
    root = low + (theory.chord_root(degree) - low) % 12
    return tuple(root + interval for interval in theory.chord(degree, size))


_NINTH = re.compile(r"(?<![0-9])[a-g][#b]?(?:m|maj|min|add)?9(?![0-9])")
"""A ninth chord in a sample's name (``stab_Am9_dub``), not a 9 inside a tempo or a count."""


def _stab(layer: Layer, theory: Theory, degree: int, bar_ticks: int) -> list[Note]:
    name = layer.sample.rsplit("/", 1)[-1].lower()
    if "fifth" in name:
        root = 57 + (theory.chord_root(degree) - 57) % 12
        pitches = (root, root + _step(theory, degree, 4), root + 12)
    else:
        pitches = voicing(theory, degree, 5 if _NINTH.search(name) else 4, 55)
    length = 72 if "dub" in name else 24 if "short" in name else 48
    hits = layer.hits if layer.kind == "hit" else (0,)
    return [Note(p, t, length, velocity(layer.gain)) for t in hits for p in pitches]


def _held(layer: Layer, theory: Theory, degree: int, track: str, bar_ticks: int) -> list[Note]:
    """Chords hold a seventh chord in close position; a pad texture a ninth voicing spread as the pack's pad
    (root, fifth, seventh, ninth, tenth); any other texture a drone of root, fifth and octave."""
    if track == "chords":
        pitches = voicing(theory, degree, 4, 55)
    elif "pad" in layer.sample.lower():
        root = 45 + (theory.chord_root(degree) - 45) % 12
        pitches = (root, *(root + _step(theory, degree, s) for s in (4, 6, 8, 9)))
    else:
        root = 33 + (theory.chord_root(degree) - 33) % 12
        pitches = (root, root + _step(theory, degree, 4), root + 12)
    hits = layer.hits if layer.kind == "hit" and layer.hits else (0,)
    ends = (*hits[1:], bar_ticks)
    return [Note(p, t, end - t, velocity(layer.gain)) for t, end in zip(hits, ends, strict=True) for p in pitches]


def _loop_bars(sample: str) -> int:
    """How many bars a loop sample spans, from its name (``…_2bar_loop.wav``); 1 when the name does not say."""
    match = re.search(r"(\d+)\s*bars?", sample.rsplit("/", 1)[-1])
    return max(1, int(match.group(1))) if match else 1
