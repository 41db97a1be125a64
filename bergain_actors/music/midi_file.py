"""A set as a Standard MIDI File (type 1): a conductor track with the tempo map, time signature, key signature and
a marker at each phase, then one track per Ableton role with the notes ``bar_notes`` gives (drums on channel 10):
velocities against the track's level, and the level itself as channel volume (CC 7) at each beat where it changes,
as live mode sets Live's track volume.

Bars are laid end to end in the order they are given (the order the speakers took them), so the file plays the
set as heard. Our grid (96 ticks a beat) maps exactly onto the file's 480. Pure apart from the file it writes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import mido
import msgspec

from bergain_actors.music.notes import TRACKS, bar_notes, track_levels, unplayed
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan
from bergain_actors.music.theory import Theory

FILE_TICKS_PER_BEAT = 480
"""What DAWs write; five file ticks per tick of ours."""
SCALE = FILE_TICKS_PER_BEAT // TICKS_PER_BEAT

CHANNELS = {"drums": 9, "bass": 0, "chords": 1, "stab": 2, "texture": 3}
"""MIDI channel (0-based) per track: GM percussion is channel 10."""
PROGRAMS = {"bass": 38, "chords": 89, "stab": 81, "texture": 95}
"""General MIDI programs (0-based) so a plain GM player sounds roughly right: synth bass, warm pad, saw lead, sweep
pad."""

_MAJOR_SIGNATURES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_SIGNATURES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
_MODE_DEGREE = {"major": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7}


class TimedNote(msgspec.Struct, frozen=True):
    """A note read back from a file, in our ticks from the start of the song."""

    pitch: int
    start: int
    duration: int
    velocity: int
    channel: int


class MidiSong(msgspec.Struct, frozen=True):
    """What ``read_midi`` finds: enough to check a file against the plans it came from."""

    ticks_per_beat: int
    tempos: tuple[tuple[int, float], ...]
    """(tick, bpm) at each tempo change, in our ticks."""
    markers: tuple[tuple[int, str], ...]
    tracks: dict[str, tuple[TimedNote, ...]]
    """Track name → notes sorted by (start, pitch)."""


class Written(msgspec.Struct, frozen=True):
    bars: int
    notes: dict[str, int]
    """Track → notes written."""
    unplayed: dict[str, int] = {}
    """Role → bars in which a layer of it had no MIDI equivalent (a loop of a role no track knows)."""


def write_midi(plans: Iterable[BarPlan], theory: Theory, out: Path | BinaryIO, name: str = "") -> Written:
    """Write the bars of ``plans`` in order as a type-1 MIDI file to ``out`` (a path or a binary file)."""
    conductor: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
    timed: dict[str, list[tuple[int, int, int, int]]] = {track: [] for track in TRACKS}
    """Per track: (file tick, -1 = volume / 0 = off / 1 = on, pitch or volume, velocity), made into messages once
    sorted."""
    volumes: dict[str, int] = {}
    counts = dict.fromkeys(TRACKS, 0)
    skipped: dict[str, int] = {}
    at = bars = 0
    bpm = phase = meter = None
    for plan in plans:
        if plan.bpm != bpm:
            conductor.append((at, 1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(plan.bpm))))
            bpm = plan.bpm
        if plan.beats_per_bar != meter:
            signature = mido.MetaMessage("time_signature", numerator=plan.beats_per_bar, denominator=4)
            conductor.append((at, 0, signature))
            meter = plan.beats_per_bar
        if plan.phase != phase and plan.phase:
            conductor.append((at, 2, mido.MetaMessage("marker", text=plan.phase)))
            phase = plan.phase
        for role in unplayed(plan):
            skipped[role] = skipped.get(role, 0) + 1
        for beat in range(plan.beats_per_bar):  # as live mode rides Live's fader: beat by beat through a fade
            for track, level in track_levels(plan, beat / plan.beats_per_bar).items():
                volume = cc_volume(level)
                if volumes.get(track) != volume:
                    timed[track].append(((at + beat * TICKS_PER_BEAT) * SCALE, -1, volume, 0))
                    volumes[track] = volume
        for track, notes in bar_notes(plan, theory, relative=True).items():
            for n in notes:
                start = (at + n.start) * SCALE
                timed[track] += [(start, 1, n.pitch, n.velocity), (start + n.duration * SCALE, 0, n.pitch, 0)]
            counts[track] += len(notes)
        at += plan.beats_per_bar * TICKS_PER_BEAT
        bars += 1
    song = mido.MidiFile(type=1, ticks_per_beat=FILE_TICKS_PER_BEAT)
    head = [mido.MetaMessage("track_name", name=name or "bergain-actors")]
    head.append(mido.MetaMessage("key_signature", key=key_signature(theory)))
    song.tracks.append(_track(head, [(t * SCALE, order, m) for t, order, m in conductor], at * SCALE))
    for track in TRACKS:
        head = [mido.MetaMessage("track_name", name=track)]
        if track in PROGRAMS:
            head.append(mido.Message("program_change", channel=CHANNELS[track], program=PROGRAMS[track]))
        song.tracks.append(_notes_track(head, timed[track], CHANNELS[track], at * SCALE))
    if isinstance(out, Path):
        song.save(filename=str(out))
    else:
        song.save(file=out)
    return Written(bars=bars, notes=counts, unplayed=skipped)


def _track(head: list, timed: list[tuple[int, int, mido.MetaMessage]], end: int) -> mido.MidiTrack:
    """Absolute ticks → deltas. Every track ends at ``end``, the last bar's end, so the file lasts as long as the
    set, trailing silence included."""
    track = mido.MidiTrack(head)
    now = 0
    for tick, _, message in sorted(timed, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def _notes_track(head: list, timed: list[tuple[int, int, int, int]], channel: int, end: int) -> mido.MidiTrack:
    """As ``_track`` for notes; at one tick, note-offs go before note-ons so a repeated note is struck again."""
    track = mido.MidiTrack(head)
    now = 0
    for tick, on, pitch, velocity in sorted(timed):
        if on < 0:
            track.append(mido.Message("control_change", channel=channel, control=7, value=pitch, time=tick - now))
        else:
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def cc_volume(gain: float) -> int:
    """A linear gain as MIDI channel volume: GM's curve is 40·log10(cc/127) dB, so cc = 127·√gain."""
    return max(0, min(127, round(127 * math.sqrt(max(gain, 0.0)))))


def key_signature(theory: Theory) -> str:
    """The key signature mido writes (``Am``, ``F#``); a mode gets its parent major's."""
    if theory.scale in ("minor", "harmonic minor"):
        return _MINOR_SIGNATURES[theory.root]
    return _MAJOR_SIGNATURES[(theory.root - _MODE_DEGREE[theory.scale]) % 12]


def read_midi(source: Path | bytes) -> MidiSong:
    """Read a file ``write_midi`` wrote (or any type-1 file whose grid divides into ours)."""
    song = mido.MidiFile(file=io.BytesIO(source)) if isinstance(source, bytes) else mido.MidiFile(str(source))
    per_tick = song.ticks_per_beat / TICKS_PER_BEAT
    tempos: list[tuple[int, float]] = []
    markers: list[tuple[int, str]] = []
    tracks: dict[str, tuple[TimedNote, ...]] = {}
    for index, track in enumerate(song.tracks):
        now = 0
        name = f"track {index}"
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        notes: list[TimedNote] = []
        for message in track:
            now += message.time
            tick = round(now / per_tick)
            if message.type == "track_name":
                name = message.name
            elif message.type == "set_tempo":
                tempos.append((tick, round(mido.tempo2bpm(message.tempo), 3)))
            elif message.type == "marker":
                markers.append((tick, message.text))
            elif message.type == "note_on" and message.velocity > 0:
                sounding[(message.channel, message.note)] = (tick, message.velocity)
            elif message.type in ("note_on", "note_off"):
                start, vel = sounding.pop((message.channel, message.note), (None, 0))
                if start is not None:
                    notes.append(TimedNote(message.note, start, tick - start, vel, message.channel))
        if notes or index > 0:
            tracks[name] = tuple(sorted(notes, key=lambda n: (n.start, n.pitch)))
    return MidiSong(ticks_per_beat=song.ticks_per_beat, tempos=tuple(tempos), markers=tuple(markers), tracks=tracks)
