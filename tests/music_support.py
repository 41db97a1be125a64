"""A real autopilot set, played in-process offline, and the plans its speakers took (holds included)."""

from __future__ import annotations

from pathlib import Path

import mido
import trio

from bergain_actors.core.log import LogReader
from bergain_actors.core.scenario import Scenario
from bergain_actors.music.plan import BarPlan
from bergain_actors.performance import perform, set_paths
from bergain_actors.replay import played_plans
from tests.conftest import make_scenario


def play_set(out: Path, **changes: object) -> tuple[Scenario, Path, Path]:
    """Play the autopilot scenario with ``changes`` into ``out``; returns it with its log and WAV."""
    scenario = make_scenario(out, **changes)
    log_path, wav_path = set_paths(scenario, out, stamp="set")
    trio.run(lambda: perform(scenario, "", log_path=log_path, wav_path=wav_path))
    return scenario, log_path, wav_path


def plans_of(log_path: Path) -> list[BarPlan]:
    return list(played_plans(LogReader(log_path)))


def midi_notes(path: Path) -> tuple[mido.MidiFile, dict[str, list[tuple[int, int, int, int, int]]]]:
    """Read a MIDI file with mido alone: track name → (pitch, start, duration, velocity, channel) in file ticks,
    pairing each note-off (or velocity-0 note-on) with the note-on it ends."""
    song = mido.MidiFile(str(path))
    tracks: dict[str, list[tuple[int, int, int, int, int]]] = {}
    for track in song.tracks:
        now, name, open_notes, found = 0, "", {}, []
        for message in track:
            now += message.time
            if message.type == "track_name":
                name = message.name
            elif message.type == "note_on" and message.velocity:
                assert (message.channel, message.note) not in open_notes, f"{name}: note {message.note} struck twice"
                open_notes[(message.channel, message.note)] = (now, message.velocity)
            elif message.type in ("note_on", "note_off"):
                start, vel = open_notes.pop((message.channel, message.note))
                found.append((message.note, start, now - start, vel, message.channel))
        assert not open_notes, f"{name}: notes never ended"
        tracks[name] = sorted(found, key=lambda n: (n[1], n[0]))
    return song, tracks
