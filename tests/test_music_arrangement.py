"""Transitions at the seams of the arc: fills, a build into each drop, an impact on its one, a downlifter."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.music import arc, texture
from bergain_actors.music.arc import sections
from bergain_actors.music.arrangement import BED, BED_FADE_BARS, BED_LEVEL, ORNAMENTS, bed_of, dress
from bergain_actors.music.mixer import SampleInfo
from bergain_actors.music.plan import BarPlan, Layer
from tests.brain_support import logged, of
from tests.conftest import AUTOPILOT, ROOT

MENU = {
    role: [SampleInfo(id=f"{role}/{name}.wav", role=role, is_loop=False) for name in names]
    for role, names in {
        "fx": ("downlifter", "impact_boom", "riser_noise"),
        "ride": ("ride_bell", "ride_wash"),
        "snare": ("snare_909", "snare_tight"),
        "perc": ("rim_shot", "tom_low"),
        "hihat": ("hat_closed", "hat_open_808"),
        "clap": ("clap_909",),
    }.items()
}
GROOVE = (
    Layer("kick", "kick/k.wav", 0.9, hits=(0, 96, 192, 288)),
    Layer("bassline", "bassline/b.wav", 0.6, kind="loop"),
)


def dressed(bar: int, total: int = 256) -> dict[str, Layer]:
    plan = dress(BarPlan(bar=bar, bpm=128, layers=GROOVE), total, 16, MENU)
    return {layer.role: layer for layer in plan.layers}


def test_the_build_into_a_drop_rolls_rises_and_thins_then_the_drop_hits():
    peak = next(s for s in sections(256, 16) if s.name == "peak")
    build = [dressed(bar) for bar in range(peak.start - 8, peak.start)]
    gains = [b["roll"].gain for b in build]
    assert gains == sorted(gains) and gains[-1] > 2 * gains[0]
    assert [len(b["roll"].hits) for b in build] == [4, 4, 4, 4, 8, 8, 16, 16]
    assert "riser" in build[-2] and build[-2]["riser"].sample == "fx/riser_noise.wav"
    cutoffs = [b["bassline"].filter.hz for b in build]
    assert all(b["bassline"].filter.kind == "highpass" for b in build) and cutoffs == sorted(cutoffs)
    assert build[-1]["kick"].filter is None  # the kick keeps punching
    drop = dressed(peak.start)
    assert drop["impact"].hits == (0,) and drop["crash"].sample == "ride/ride_wash.wav"
    assert drop["bassline"].filter is None


def test_phrases_end_with_fills_that_differ_and_the_breakdown_opens_with_a_downlifter():
    fills = [dressed(bar)["fill"] for bar in (15, 31, 47, 63)]
    assert len({(f.sample, f.hits) for f in fills}) >= 3
    assert all(min(f.hits) >= 2 * 96 for f in fills)  # in the second half of the bar
    breakdown = next(s for s in sections(256, 16) if s.name == "breakdown")
    assert "downlifter" in dressed(breakdown.start)
    assert set(dressed(breakdown.start + 5)) == {"kick", "bassline"}  # the middle of a phrase: left alone
    plain = BarPlan(bar=100, bpm=128, layers=GROOVE)
    assert dress(plain, 256, 16, MENU) is plain
    assert ORNAMENTS.isdisjoint(MENU)


BED_MENU = {
    **MENU,
    "texture": [
        SampleInfo(id="texture/pad.wav", role="texture", is_loop=True),
        SampleInfo(id="texture/atmos_dark.wav", role="texture", is_loop=True),
    ],
}


def test_a_wide_bed_lies_under_every_bar_at_its_phase_level_and_glides_at_a_change():
    laid = sections(256, 16)
    beds = [dress(BarPlan(bar=b, bpm=128, layers=GROOVE, phase=""), 256, 16, BED_MENU) for b in range(256)]
    under = [next(layer for layer in plan.layers if layer.role == BED) for plan in beds]
    assert all(layer.sample == "texture/atmos_dark.wav" and layer.kind == "loop" for layer in under)
    assert all(layer.width > 0 and layer.filter.kind == "highpass" and layer.filter.hz >= 150 for layer in under)
    level = {s.name: BED_LEVEL[s.name] for s in laid}
    breakdown = next(s for s in laid if s.name == "breakdown")
    assert under[breakdown.start + 3].gain == level["breakdown"] < level["peak"] == under[breakdown.start - 3].gain
    glide = under[breakdown.start]
    assert (glide.gain, glide.gain_end) == (level["peak"], level["breakdown"])
    assert under[breakdown.end].gain_end == level["peak2"]  # back up on the drop
    steady = [layer for i, layer in enumerate(under) if i not in {s.start for s in laid} and i < 256 - BED_FADE_BARS]
    assert all(layer.gain_end is None for layer in steady)
    ending = under[-BED_FADE_BARS:]
    assert ending[0].gain == level["outro"] and ending[-1].gain_end == 0.0  # the room empties with the set
    assert all(a.gain_end == b.gain for a, b in itertools.pairwise(ending))
    assert all(texture.of_plan(plan) == texture.of_layers(GROOVE) for plan in beds)  # the room is not a texture
    assert arc.plan_energy(beds[100]) == arc.energy(GROOVE)


def test_a_held_groove_keeps_its_bed_as_the_last_bar_left_it():
    laid = sections(256, 16)
    breakdown = next(s for s in laid if s.name == "breakdown")
    gliding = dress(BarPlan(bar=breakdown.start, bpm=128, layers=GROOVE), 256, 16, BED_MENU)
    held = bed_of(gliding)
    assert (held.gain, held.gain_end) == (BED_LEVEL["breakdown"], None)  # where the glide ended
    later = [BarPlan(bar=b, bpm=128, layers=GROOVE) for b in (breakdown.start + 5, breakdown.end + 3)]
    kept = [dress(plan, 256, 16, BED_MENU, hold=True, held=held) for plan in later]
    assert all(plan.layers == (*GROOVE, held) for plan in kept)  # the drop came and went: nothing moved
    assert bed_of(dress(later[1], 256, 16, BED_MENU)).gain == BED_LEVEL["peak2"]  # unheld, the arc's level
    first = dress(BarPlan(bar=100, bpm=128, layers=GROOVE), 256, 16, BED_MENU, hold=True)
    assert [layer.role for layer in first.layers] == ["kick", "bassline", BED]  # nothing held yet: the arc's bed


def test_the_bed_fades_with_a_wind_down_and_needs_a_texture_loop():
    winding = [BarPlan(bar=100, bpm=128, layers=GROOVE, phase="outro", energy=e) for e in (0.6, 0.2, 0.05)]
    gains = [next(la.gain for la in dress(p, 256, 16, BED_MENU).layers if la.role == BED) for p in winding]
    assert gains[0] == BED_LEVEL["outro"] and gains == sorted(gains, reverse=True) and gains[-1] < 0.1
    one_shots = {**MENU, "texture": [SampleInfo(id="texture/pad_hit.wav", role="texture", is_loop=False)]}
    assert dress(BarPlan(bar=100, bpm=128, layers=GROOVE), 256, 16, one_shots).layers == GROOVE


def _set_on(tmp_path: Path, pack: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    """A 16-bar autopilot set on ``pack`` from the command line: its log, its WAV and what it printed."""
    text = AUTOPILOT.read_text().replace('sample_pack = "../sample_pack"', f'sample_pack = "{pack}"')
    (tmp_path / "set.toml").write_text(text)
    argv = ["run", str(tmp_path / "set.toml"), "--bars", "16", "--fast", "--no-audio", "--no-report"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    (log_path,) = (tmp_path / "out").glob("*.bgnlog")
    (wav_path,) = (tmp_path / "out").glob("*.wav")
    captured = capsys.readouterr()
    return log_path, wav_path, captured.out + captured.err


def test_a_pack_with_no_texture_loop_plays_without_a_bed_and_says_so(tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "sample_pack", pack, ignore=shutil.ignore_patterns("texture"))
    log_path, wav_path, printed = _set_on(tmp_path, pack, capsys)
    assert f"the pack at {pack} has no texture loop for the bed: the set plays without its stereo bed" in printed
    # the summary counts it, and the texture layer the arc asks for, which the pack cannot give either
    assert "pack lacks   2: no texture sample for the arc: the set plays without a texture; no texture loop" in printed
    events = logged(log_path)
    assert [(e.part, e.need) for e in of(events, ev.PackLacks)] == [("arc", "texture sample"), ("bed", "texture loop")]
    assert not any(layer.role == BED for e in of(events, ev.BarPlanned) for layer in e.plan.layers)
    assert main(["replay", str(log_path), "--verify", "--wav", str(tmp_path / "again.wav")]) == 0
    assert (tmp_path / "again.wav").read_bytes() == wav_path.read_bytes()


def test_the_shipped_pack_makes_its_bed_and_warns_of_nothing(tmp_path, capsys):
    log_path, _, printed = _set_on(tmp_path, ROOT / "sample_pack", capsys)
    assert "has no texture loop" not in printed and "pack lacks" not in printed
    events = logged(log_path)
    assert not of(events, ev.PackLacks)
    assert all(any(layer.role == BED for layer in e.plan.layers) for e in of(events, ev.BarPlanned))
