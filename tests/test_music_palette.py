"""Palette mode's grid: scenes from intro to outro by energy, clips in key on the phase's chords, and the scene
that fits a phase and an energy."""

from __future__ import annotations

import pytest

from bergain_actors.music import arc
from bergain_actors.music.notes import RANGES, Note, bar_notes
from bergain_actors.music.palette import CLIP_BARS, SCENES, build_palette, scene_for
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan
from bergain_actors.music.theory import PHASE_NAMES, set_theory

BAR = 4 * TICKS_PER_BEAT
THEORY = set_theory(11, "F minor")


def test_the_grid_runs_from_intro_to_outro_and_every_phase_has_a_scene() -> None:
    phases = [s.phase for s in SCENES]
    assert phases[0] == "intro" and phases[-1] == "outro"
    assert set(phases) == set(PHASE_NAMES)
    assert [PHASE_NAMES.index(p) for p in phases] == sorted(PHASE_NAMES.index(p) for p in phases)
    by_name = {s.name: s.energy for s in SCENES}
    assert by_name["intro"] < by_name["build"] < by_name["peak"] < by_name["peak2"]
    assert by_name["breakdown"] < by_name["intro"]


def test_scene_energy_is_measured_and_near_its_phase_target() -> None:
    for scene in SCENES:
        targets = [arc.phase_at(bar, 1000)[1] for bar in range(1000) if arc.phase_at(bar, 1000)[0] == scene.phase]
        assert scene.energy == arc.energy(scene.layers)
        assert min(targets) - 0.12 <= scene.energy <= max(targets) + 0.12, scene.name


@pytest.mark.parametrize(
    ("phase", "energy", "name"),
    [
        ("intro", 0.0, "intro"),
        ("intro", 0.5, "warm-up"),
        ("build", 0.5, "build"),
        ("build", 0.75, "build-up"),
        ("peak", 1.0, "peak"),
        ("breakdown", 0.9, "breakdown"),
        ("peak2", 0.1, "peak2"),
        ("outro", 0.45, "outro"),
        ("outro", 0.1, "fade"),
        ("", 0.95, "peak2"),
        ("encore", 0.2, "breakdown"),
    ],
)
def test_scene_for_picks_the_phase_then_the_nearest_energy(phase: str, energy: float, name: str) -> None:
    assert SCENES[scene_for(phase, energy)].name == name


def test_clips_are_the_live_notes_of_the_scene_over_its_bars() -> None:
    palette = build_palette(THEORY)
    assert [s.name for s in palette] == [s.name for s in SCENES]
    for scene, spec in zip(palette, SCENES, strict=True):
        assert scene.bars == CLIP_BARS
        for bar in range(CLIP_BARS):
            live = bar_notes(BarPlan(bar=bar, bpm=128, layers=spec.layers, phase=spec.phase), THEORY)
            for track in scene.roles:
                in_bar = tuple(
                    Note(n.pitch, n.start - bar * BAR, n.duration, n.velocity)
                    for n in scene.clips[track]
                    if bar * BAR <= n.start < (bar + 1) * BAR
                )
                assert in_bar == live[track], (scene.name, bar, track)
        assert set(scene.roles) == {
            t
            for b in range(CLIP_BARS)
            for t, n in bar_notes(BarPlan(bar=b, bpm=128, layers=spec.layers, phase=spec.phase), THEORY).items()
            if n
        }


def test_clips_are_in_key_and_the_breakdown_drops_the_kick() -> None:
    palette = {s.name: s for s in build_palette(THEORY)}
    for scene in palette.values():
        for track, notes in scene.clips.items():
            assert all(n.start + n.duration <= scene.bars * BAR for n in notes)
            if track != "drums":
                lo, hi = RANGES[track]
                assert all(THEORY.in_key(n.pitch) and lo <= n.pitch <= hi for n in notes), (scene.name, track)
    assert 36 not in {n.pitch for n in palette["breakdown"].clips["drums"]}
    assert 36 in {n.pitch for n in palette["peak"].clips["drums"]}
    assert "bass" in palette["peak"].roles and "bass" not in palette["breakdown"].roles
