"""An 8-minute autopilot set judged as a listener would (music/measure.py through assess.py): phrase-true, never
silent, changing every phrase, breathing in the breakdown, and ending on the kick."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.assess import SetReport, assess
from bergain_actors.cli import main
from bergain_actors.core.log import read_all
from bergain_actors.core.scenario import PACKAGE_ROOT

AUTOPILOT = PACKAGE_ROOT / "scenarios" / "autopilot.toml"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> SetReport:
    out = tmp_path_factory.mktemp("set8")
    argv = [
        "run",
        str(AUTOPILOT),
        "--minutes",
        "8",
        "--seed",
        "7",
        "--fast",
        "--no-audio",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    (log,) = out.glob("*.bgnlog")
    audio, rate = sf.read(log.with_suffix(".wav"), dtype="float32", always_2d=True)
    return assess(read_all(log)[1], audio, rate)


def test_phases_sit_on_the_phrase_grid_and_nothing_falls_silent(report):
    assert report.bars == 256
    assert report.phases_off_grid == ()
    assert report.silent_seconds == 0
    assert report.outro_end_has_kick


def test_every_phrase_changes_and_the_set_varies(report):
    assert report.phrases_changed == report.phrases_compared == 15
    assert report.identical_consecutive_phrases == 0
    assert report.combinations >= 16
    assert report.longest_identical_run <= 16
    assert report.refused_rate <= 0.05


def test_the_breakdown_breathes_and_is_not_a_hiss_bath(report):
    assert report.breakdown_to_peak_lu >= 6
    breakdown = [
        hz for hz, phase in zip(report.phrase_centroid_hz, report.phrase_phase, strict=True) if phase == "breakdown"
    ]
    assert breakdown[0] < 2000  # a pad and a chord stab carry it, not hats and a ride
    assert np.isfinite(report.lufs) and -16 < report.lufs < -9


def test_the_mix_has_width_above_a_mono_low_end(report):
    # kick and bass stay mono but no longer drown the wide bed: 0.80 (0.96 before the bed and kick and bass 2 dB
    # lower), while the breakdown still breathes (above) and the set keeps its loudness
    assert report.stereo_correlation <= 0.85
    # hats, percs, pads, the bed, the delay and the reverb spread: 0.29 (0.75 before the bed)
    assert report.highs_correlation <= 0.5
    assert -14 < report.lufs < -10
