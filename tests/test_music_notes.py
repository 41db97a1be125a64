"""A real autopilot set's plans become notes: drums on the GM map at the plan's hits, bass in key and range,
chords that follow the phase's progression, velocities from gain, valid clips bar by bar."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import msgspec
import pytest

from bergain_actors.music.notes import RANGES, TRACKS, Note, bar_notes, tidy, velocity
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Layer
from bergain_actors.music.theory import SCALES, Theory, set_theory
from tests.music_support import plans_of, play_set

BAR = 4 * TICKS_PER_BEAT
GM = {"kick": 36, "snare": 38, "clap": 39, "closed hat": 42, "open hat": 46, "ride": 51}


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> tuple[list[BarPlan], Theory]:
    scenario, log_path, _ = play_set(tmp_path_factory.mktemp("set"), bars=128, seed=3)
    return plans_of(log_path), set_theory(scenario.seed, scenario.key)


def test_the_set_covers_every_track_and_phase(played) -> None:
    plans, theory = played
    assert len(plans) == 128
    assert {p.phase for p in plans} == set(theory.progressions)
    sounding = {track for plan in plans for track, notes in bar_notes(plan, theory).items() if notes}
    assert sounding == {"drums", "bass", "stab", "texture"}  # the autopilot has no chords role


def test_every_drum_hit_is_its_gm_note_at_its_tick(played) -> None:
    plans, theory = played
    checked = 0
    for plan in plans:
        drums = {(n.pitch, n.start) for n in bar_notes(plan, theory)["drums"]}
        for layer in plan.layers:
            name = layer.sample.rsplit("/", 1)[-1]
            expected = {
                "kick": GM["kick"],
                "clap": GM["clap"],
                "snare": GM["snare"],
                "hihat": GM["open hat"] if "open" in name else GM["closed hat"],
                "ride": 53 if "bell" in name else GM["ride"],
            }.get(layer.role)
            if expected is not None:
                assert {(expected, t) for t in layer.hits} <= drums, (plan.bar, layer.role)
                checked += len(layer.hits)
    assert checked > 1000


def test_bass_is_in_key_in_range_and_mono(played) -> None:
    plans, theory = played
    lo, hi = RANGES["bass"]
    bars_with_bass = 0
    for plan in plans:
        bass = bar_notes(plan, theory)["bass"]
        bars_with_bass += bool(bass)
        assert all(lo <= n.pitch <= hi and theory.in_key(n.pitch) for n in bass), plan.bar
        assert all(a.start + a.duration <= b.start for a, b in pairwise(bass)), plan.bar
    assert bars_with_bass > 60


def test_melodic_tracks_stay_in_key_and_range(played) -> None:
    plans, theory = played
    for plan in plans:
        notes = bar_notes(plan, theory)
        for track in ("chords", "stab", "texture"):
            lo, hi = RANGES[track]
            assert all(lo <= n.pitch <= hi and theory.in_key(n.pitch) for n in notes[track]), (plan.bar, track)


def test_harmony_follows_the_phase_progression(played) -> None:
    plans, theory = played
    roots_seen = set()
    for plan in plans:
        degree = theory.progressions[plan.phase][plan.bar % len(theory.progressions[plan.phase])]
        root = (theory.root + theory.offset(degree)) % 12
        ninth_chord = {(root + i) % 12 for i in theory.chord(degree, 5)}
        notes = bar_notes(plan, theory)
        for track in ("stab", "texture"):
            if notes[track]:
                assert min(n.pitch for n in notes[track]) % 12 == root, (plan.bar, track)
                assert {n.pitch % 12 for n in notes[track]} <= ninth_chord, (plan.bar, track)
                roots_seen.add(root)
        if notes["bass"]:
            assert root in {n.pitch % 12 for n in notes["bass"]}, plan.bar
    assert len(roots_seen) >= 3  # the progressions really move


def test_notes_stay_inside_the_bar_and_never_overlap_their_own_pitch(played) -> None:
    plans, theory = played
    for plan in plans:
        for track, notes in bar_notes(plan, theory).items():
            assert list(notes) == sorted(notes, key=lambda n: (n.start, n.pitch))
            by_pitch: dict[int, list[Note]] = defaultdict(list)
            for n in notes:
                assert n.start >= 0 and n.duration >= 1 and n.start + n.duration <= BAR, (plan.bar, track, n)
                assert 1 <= n.velocity <= 127
                by_pitch[n.pitch].append(n)
            for same in by_pitch.values():
                assert all(a.start + a.duration <= b.start for a, b in pairwise(same)), (plan.bar, track)


def test_pure_and_deterministic(played) -> None:
    plans, theory = played
    copy = msgspec.msgpack.decode(msgspec.msgpack.encode(plans), type=list[BarPlan])
    again = msgspec.json.decode(msgspec.json.encode(theory), type=Theory)
    assert [bar_notes(p, theory) for p in plans] == [bar_notes(p, again) for p in copy]


def _plan(*layers: Layer, bar: int = 0, phase: str = "peak") -> BarPlan:
    return BarPlan(bar=bar, bpm=128, layers=layers, phase=phase)


TONIC = Theory(root=9, scale="minor", progressions={"peak": (0,), "breakdown": (5,)})


def test_velocity_follows_gain() -> None:
    soft = bar_notes(_plan(Layer("kick", "kick/k.wav", 0.3, hits=(0,))), TONIC)["drums"]
    loud = bar_notes(_plan(Layer("kick", "kick/k.wav", 0.9, hits=(0,))), TONIC)["drums"]
    assert soft[0].velocity < loud[0].velocity
    assert velocity(0.0) >= 1 and velocity(1.0) == 127


def test_a_two_bar_bassline_alternates_its_bars_from_where_it_started() -> None:
    acid = Layer("bassline", "bassline/bassline_acid_A_128bpm_2bar_loop.wav", 0.7, kind="loop", loop_start_bar=5)
    first, second, third = (bar_notes(_plan(acid, bar=b), TONIC)["bass"] for b in (5, 6, 7))
    assert first != second and first == third
    assert first[0] == Note(45, 0, 21, velocity(0.7))  # the pack's line opens on A2, accented


def test_the_bass_moves_with_the_chord() -> None:
    rolling = Layer("bassline", "bassline/bassline_rolling_A_128bpm_1bar_loop.wav", 0.7, kind="loop")
    home = bar_notes(_plan(rolling), TONIC)["bass"]
    away = bar_notes(_plan(rolling, phase="breakdown"), TONIC)["bass"]
    assert [n.pitch for n in home[:3]] == [33, 33, 33]  # A1 on the off-sixteenths
    assert [n.pitch for n in away[:3]] == [41, 41, 41]  # F2 under the VI chord
    assert [n.start for n in home] == [n.start for n in away]


def test_pads_chords_and_one_shot_bass_reach_their_tracks() -> None:
    plan = _plan(
        Layer("pad", "pad/warm.wav", 0.5, kind="loop"),
        Layer("bass", "bass/bass_sub_A1.wav", 0.6, hits=(48, 144)),
        Layer("bassline", "bassline/bassline_offbeat_A_128bpm_2bar_loop.wav", 0.6, kind="loop"),
        Layer("conga", "perc/x.wav", 0.5, hits=(0,)),
    )
    notes = bar_notes(plan, TONIC)
    assert set(notes) == set(TRACKS)
    assert [n.pitch for n in notes["chords"]] == [57, 60, 64, 67]  # Am7 in close position from A3
    assert all(n.start == 0 and n.duration == BAR for n in notes["chords"])
    assert notes["drums"] == (Note(47, 0, 24, velocity(0.5)),)  # an unknown one-shot role is a GM tom
    bass = notes["bass"]
    assert [n.start for n in bass] == [48, 144, 240, 336]  # both bass layers at once: one mono line
    assert all(a.start + a.duration <= b.start for a, b in pairwise(bass))


def test_tidy_merges_doubles_and_cuts_overlaps() -> None:
    notes = [Note(60, 0, 200, 80), Note(60, 0, 100, 90), Note(60, 96, 48, 70), Note(62, 300, 200, 70)]
    assert tidy(notes, BAR) == (Note(60, 0, 96, 90), Note(60, 96, 48, 70), Note(62, 300, 84, 70))
    mono = tidy([Note(33, 0, 96, 80), Note(45, 48, 96, 80)], BAR, mono=True)
    assert mono == (Note(33, 0, 48, 80), Note(45, 48, 96, 80))


def test_straight_notes_survive_osc_float32_beats_exactly(played) -> None:
    """Live receives start and duration as 32-bit float beats: on the 32nd grid they arrive exactly, so the
    notes Live plays compare equal to the plan's."""
    import struct

    plans, theory = played
    for plan in plans:
        for track, notes in bar_notes(plan, theory).items():
            for n in notes:
                for ticks in (n.start, n.duration):
                    beats = ticks / TICKS_PER_BEAT
                    assert struct.unpack("f", struct.pack("f", beats))[0] == beats, (plan.bar, track, n)


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_every_key_degree_and_figure_stays_in_range_and_key(scale: str) -> None:
    """Exhaustive over tonics, chords and the sample figures: no transposition leaves a track's range."""
    layers = (
        *(Layer("bassline", f"bassline/{f}_2bar_loop.wav", 0.7, kind="loop") for f in ("acid", "offbeat", "rolling")),
        Layer("bass", "bass/sub.wav", 0.7, hits=(0, 48, 96)),
        Layer("synth", "synth/stab_Am9_dub.wav", 0.4, hits=(96,)),
        Layer("synth", "synth/stab_rave_fifths.wav", 0.4, hits=(96,)),
        Layer("synth", "synth/stab_Am7_short.wav", 0.4, hits=(96,)),
        Layer("texture", "texture/pad_Am9_4bar_loop.wav", 0.4, kind="loop"),
        Layer("texture", "texture/atmos_dark_2bar_loop.wav", 0.4, kind="loop"),
        Layer("chords", "chords/pad.wav", 0.4, kind="loop"),
    )
    for root in range(12):
        for degree in range(7):
            theory = Theory(root=root, scale=scale, progressions={"peak": (degree,)})
            for layer in layers:
                for bar in (0, 1):
                    for track, notes in bar_notes(_plan(layer, bar=bar), theory).items():
                        if track != "drums":
                            lo, hi = RANGES[track]
                            bad = [n.pitch for n in notes if not (lo <= n.pitch <= hi and theory.in_key(n.pitch))]
                            assert not bad, (root, degree, layer.sample, track, bad)
