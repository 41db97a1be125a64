"""A real set exported to MIDI and read back with mido: a track per role, the tempo map, and every note equal to
``bar_notes`` of the plans the speakers took (holds included)."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest
import trio

from bergain_actors.actors.conductor.autopilot import Autopilot
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.cli import main
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.music.midi_file import read_midi, write_midi
from bergain_actors.music.notes import TRACKS, bar_notes
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Layer
from bergain_actors.music.theory import set_theory
from bergain_actors.performance import perform, set_paths
from tests.music_support import midi_notes, plans_of, play_set

BAR = 4 * TICKS_PER_BEAT


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path, list[BarPlan]]:
    out = tmp_path_factory.mktemp("set")
    _, log_path, _ = play_set(out, bars=128, seed=5, key="F# dorian")
    midi = out / "set.mid"
    assert main(["replay", str(log_path), "--midi", str(midi)]) == 0
    return log_path, midi, plans_of(log_path)


def expected_by_track(plans: list[BarPlan], seed: int = 5, key: str = "F# dorian") -> dict[str, list[tuple]]:
    """What the file must hold: bar_notes of each played bar, laid end to end, in file ticks (480 a beat)."""
    theory = set_theory(seed, key)
    out: dict[str, list[tuple]] = {track: [] for track in TRACKS}
    for index, plan in enumerate(plans):
        for track, notes in bar_notes(plan, theory, relative=True).items():
            channel = 9 if track == "drums" else None
            out[track] += [(n.pitch, (index * BAR + n.start) * 5, n.duration * 5, n.velocity, channel) for n in notes]
    return {track: sorted(notes, key=lambda n: (n[1], n[0])) for track, notes in out.items()}


def test_one_track_per_role_after_the_tempo_map(exported) -> None:
    _, midi, _ = exported
    song, tracks = midi_notes(midi)
    assert song.type == 1 and song.ticks_per_beat == 480
    assert list(tracks) == ["autopilot", *TRACKS]
    conductor = song.tracks[0]
    assert [m.tempo for m in conductor if m.type == "set_tempo"] == [mido.bpm2tempo(128)]
    assert [(m.numerator, m.denominator) for m in conductor if m.type == "time_signature"] == [(4, 4)]
    assert [m.key for m in conductor if m.type == "key_signature"] == ["E"]  # F# dorian: E major's sharps
    assert song.length == pytest.approx(128 * 1.875)


def test_every_note_is_the_plans_note(exported) -> None:
    _, midi, plans = exported
    _, tracks = midi_notes(midi)
    expected = expected_by_track(plans)
    for track in TRACKS:
        found = tracks[track]
        channels = {n[4] for n in found}
        if track == "drums":
            assert channels == {9}
        else:
            assert 9 not in channels
        assert [n[:4] for n in found] == [n[:4] for n in expected[track]], track
    assert sum(len(v) for v in expected.values()) > 2000
    assert {"drums", "bass", "stab", "texture"} <= {t for t, v in expected.items() if v}


def test_each_tracks_level_is_its_channel_volume_at_each_beat_where_it_changes(exported) -> None:
    """Velocities are relative to the track's level (its loudest layer), so the level is in the file as CC 7, as live
    mode sets it as Live's track volume: a gain counts once."""
    from bergain_actors.music.midi_file import cc_volume
    from bergain_actors.music.notes import track_levels

    _, midi, plans = exported
    song = mido.MidiFile(str(midi))
    changing = 0
    for index, track in enumerate(TRACKS):
        expected, last = [], None
        for bar, plan in enumerate(plans):
            for beat in range(4):
                level = track_levels(plan, beat / 4).get(track)
                if level is not None and cc_volume(level) != last:
                    expected.append(((bar * BAR + beat * TICKS_PER_BEAT) * 5, cc_volume(level)))
                    last = cc_volume(level)
        now, got = 0, []
        for message in song.tracks[index + 1]:
            now += message.time
            if message.type == "control_change" and message.control == 7:
                got.append((now, message.value))
        assert got == expected, track
        changing += len(got) > 1
    assert changing >= 2  # the set's moves show in the levels
    assert cc_volume(1.0) == 127 and cc_volume(0.25) == 64  # GM: 40·log10(cc/127) dB, so -12 dB is 64


def test_markers_follow_the_phases(exported) -> None:
    _, midi, plans = exported
    song = read_midi(midi)
    changes = [(i * BAR, p.phase) for i, p in enumerate(plans) if i == 0 or plans[i - 1].phase != p.phase]
    assert list(song.markers) == changes
    assert [m[1] for m in changes] == ["intro", "build", "peak", "breakdown", "peak2", "outro"]


def test_the_bass_is_in_the_asked_key(exported) -> None:
    _, midi, _ = exported
    theory = set_theory(5, "F# dorian")
    bass = read_midi(midi).tracks["bass"]
    assert bass and all(theory.in_key(n.pitch) and 24 <= n.pitch <= 60 for n in bass)
    assert not all(set_theory(5, "A minor").in_key(n.pitch) for n in bass)  # the key really changed the notes


def test_tempo_changes_land_on_their_bars(tmp_path) -> None:
    kick = Layer("kick", "kick/k.wav", 0.9, hits=(0, 96, 192, 288))
    plans = [BarPlan(bar=b, bpm=120 if b < 2 else 133, layers=(kick,), phase="peak") for b in range(4)]
    path = tmp_path / "tempo.mid"
    written = write_midi(plans, set_theory(0), path)
    assert written.bars == 4 and written.notes["drums"] == 16
    song = read_midi(path)
    assert [t for t, _ in song.tempos] == [0, 2 * BAR]
    assert song.tempos[0][1] == 120 and song.tempos[1][1] == pytest.approx(133, abs=0.01)
    assert mido.MidiFile(str(path)).length == pytest.approx(8 * 60 / 120 + 8 * 60 / 133, abs=1e-3)


class LateBars(Autopilot):
    """Plans bars 5-6 two bars late: the streamer holds the groove there."""

    kind = "midi_late"

    async def run(self, inbox) -> None:
        await trio.sleep_forever()

    def plan_bar(self, bar: int) -> None:
        if bar in (5, 6):
            self.ctx.spawn(self._late, bar)
        else:
            super().plan_bar(bar)

    async def _late(self, bar: int) -> None:
        await trio.sleep(float(self.ctx.set.meter.bar_seconds) * 2)
        super().plan_bar(bar)


registry.register("conductor", "midi_late", LateBars)


async def test_held_bars_are_in_the_file_as_played(autojump_clock, scenario_factory, tmp_path) -> None:
    scenario = scenario_factory(bars=12, conductor={"kind": "midi_late"})
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="late")
    await perform(scenario, "", log_path=log_path, wav_path=wav_path, sink=ClockSink(scenario.sample_rate))
    _, events, _ = read_all(log_path)
    played = [e for e in events if isinstance(e, ev.BarPlayed)]
    assert [e.bar for e in played if e.held] == [5, 6]
    midi = tmp_path / "late.mid"
    assert await trio.to_thread.run_sync(main, ["replay", str(log_path), "--midi", str(midi)]) == 0
    planned = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    plans = [
        BarPlan(**{**{f: getattr(planned[e.plan_seq], f) for f in BarPlan.__struct_fields__}, "bar": e.bar})
        for e in played
    ]
    assert plans[5].layers == planned[played[4].plan_seq].layers  # the held bar is the last good plan again
    _, tracks = midi_notes(midi)
    expected = expected_by_track(plans, scenario.seed, None)
    assert all([n[:4] for n in tracks[t]] == [n[:4] for n in expected[t]] for t in TRACKS)
    assert read_midi(midi).tracks["drums"][-1].start >= 11 * BAR  # all twelve bars, none dropped


# --- the command line ---------------------------------------------------------------------------------------------


def test_replay_midi_refuses_to_overwrite_without_force(exported, tmp_path, capsys) -> None:
    log_path, midi, _ = exported
    target = tmp_path / "taken.mid"
    target.write_bytes(b"keep me")
    assert main(["replay", str(log_path), "--midi", str(target)]) == 2
    assert f"--midi {target}: already exists; pass --force to overwrite it" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
    assert main(["replay", str(log_path), "--midi", str(target), "--force"]) == 0
    assert target.read_bytes() == midi.read_bytes()  # and the export is deterministic
    assert [p.name for p in tmp_path.iterdir()] == ["taken.mid"]  # no partial file left behind


def test_replay_midi_never_overwrites_the_log(exported, capsys) -> None:
    log_path, _, _ = exported
    before = log_path.read_bytes()
    for extra in ([], ["--force"]):
        assert main(["replay", str(log_path), "--midi", str(log_path), *extra]) == 2
        assert "that is the log being replayed" in capsys.readouterr().err
    assert log_path.read_bytes() == before


def test_replay_midi_into_a_missing_folder_or_with_nothing_to_do(exported, tmp_path, capsys) -> None:
    log_path, _, _ = exported
    assert main(["replay", str(log_path), "--midi", str(tmp_path / "nope" / "x.mid")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["replay", str(log_path)]) == 2
    assert "--midi OUT (export MIDI)" in capsys.readouterr().err


def test_a_role_without_a_track_is_counted_not_dropped_silently(tmp_path) -> None:
    kick = Layer("kick", "kick/k.wav", 0.9, hits=(0, 96, 192, 288))
    vocal = Layer("vocal", "vocal/hey_128bpm_1bar_loop.wav", 0.5, kind="loop")
    hats = Layer("hat_loop", "hat_loop/hats_1bar_loop.wav", 0.5, kind="loop")
    plans = [BarPlan(bar=b, bpm=128, layers=(kick, vocal, hats) if b else (kick,), phase="peak") for b in range(3)]
    written = write_midi(plans, set_theory(0), tmp_path / "x.mid")
    assert written.unplayed == {"vocal": 2}
    drums = read_midi(tmp_path / "x.mid").tracks["drums"]
    assert {n.pitch for n in drums if n.start >= BAR} > {36, 42, 46}  # the hat loop plays the tops figure


def test_replay_never_writes_audio_over_the_log_or_midi_over_the_audio(exported, tmp_path, capsys) -> None:
    log_path, _, _ = exported
    before = log_path.read_bytes()
    assert main(["replay", str(log_path), "--wav", str(log_path)]) == 2
    assert "--wav" in capsys.readouterr().err and log_path.read_bytes() == before
    same = tmp_path / "out.bin"
    assert main(["replay", str(log_path), "--wav", str(same), "--midi", str(same)]) == 2
    assert "the same file as --wav" in capsys.readouterr().err and not same.exists()


def test_a_three_four_set_keeps_its_meter(tmp_path) -> None:
    from bergain_actors.music.patterns import pattern_hits

    kick = Layer("kick", "kick/k.wav", 0.9, hits=pattern_hits("four_on_floor", 3))
    acid = Layer("bassline", "bassline/bassline_acid_A_128bpm_2bar_loop.wav", 0.7, kind="loop")
    plans = [BarPlan(bar=b, bpm=128, beats_per_bar=3, layers=(kick, acid), phase="peak") for b in range(4)]
    write_midi(plans, set_theory(0), tmp_path / "waltz.mid")
    song, tracks = midi_notes(tmp_path / "waltz.mid")
    assert [(m.numerator, m.denominator) for m in song.tracks[0] if m.type == "time_signature"] == [(3, 4)]
    assert [n[1] for n in tracks["drums"]] == [beat * 480 for beat in range(12)]  # a kick on every beat, no gaps
    assert all(n[1] % (3 * 480) + n[2] <= 3 * 480 for n in tracks["bass"])  # no bass note crosses a bar line
    assert song.length == pytest.approx(12 * 60 / 128)
