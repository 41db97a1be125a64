"""A set you can hear, checked objectively from its WAV: not silent, never clipping, loud where the arc peaks,
quiet in the breakdown, and the kick on the beat."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.clock import Meter
from bergain_actors.core.log import read_all
from bergain_actors.core.scenario import PACKAGE_ROOT

AUTOPILOT = PACKAGE_ROOT / "scenarios" / "autopilot.toml"


@pytest.fixture(scope="module")
def two_minute_set(tmp_path_factory) -> tuple[np.ndarray, int, list[ev.Event]]:
    out = tmp_path_factory.mktemp("set")
    argv = ["run", str(AUTOPILOT), "--minutes", "2", "--fast", "--no-audio", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    (log,) = out.glob("*.bgnlog")
    audio, rate = sf.read(log.with_suffix(".wav"), dtype="float32")
    return audio, rate, read_all(log)[1]


def bars_by_phase(audio, rate, events) -> dict[str, list[np.ndarray]]:
    meter = Meter(128)
    plans = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    phases: dict[str, list[np.ndarray]] = {}
    for e in events:
        if isinstance(e, ev.BarPlayed):
            start, n = meter.bar_frames(e.bar, rate)
            phases.setdefault(plans[e.plan_seq].phase, []).append(audio[start : start + n])
    return phases


def rms(chunks: list[np.ndarray]) -> float:
    return float(np.sqrt(np.mean(np.concatenate(chunks) ** 2)))


def test_not_silent_and_never_clipping(two_minute_set):
    audio, rate, events = two_minute_set
    assert len(audio) == round(64 * 1.875 * rate)
    assert float(np.sqrt(np.mean(audio**2))) > 0.05
    assert float(np.abs(audio).max()) <= 1.0
    assert all(e.peak <= 1.0 for e in events if isinstance(e, ev.BarPlayed))


def test_loudness_follows_the_arc(two_minute_set):
    phases = bars_by_phase(*two_minute_set)
    assert set(phases) == {"intro", "build", "peak", "breakdown", "peak2", "outro"}
    assert rms(phases["peak"]) > rms(phases["intro"])
    assert rms(phases["peak"]) > 2 * rms(phases["breakdown"])
    assert rms(phases["peak2"]) > 2 * rms(phases["breakdown"])


def test_arrangement_changes_audibly_across_the_set(two_minute_set):
    _, _, events = two_minute_set
    layouts = {tuple(sorted(layer.role for layer in e.plan.layers)) for e in events if isinstance(e, ev.BarPlanned)}
    assert len(layouts) >= 5


def low_band(chunk: np.ndarray, rate: int) -> np.ndarray:
    """A causal low-pass (two 2 ms moving averages, first null near 500 Hz): no pre-ringing before onsets."""
    width = rate // 500
    kernel = np.ones(width) / width
    mono = chunk.mean(axis=1)
    return np.abs(np.convolve(np.convolve(mono, kernel)[: len(mono)], kernel)[: len(mono)])


def test_kick_onsets_land_on_the_beat(two_minute_set):
    audio, rate, events = two_minute_set
    meter = Meter(128)
    plans = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    hop = rate // 200  # 5 ms
    checked = 0
    for e in events:
        if not isinstance(e, ev.BarPlayed):
            continue
        plan = plans[e.plan_seq]
        if plan.phase != "intro" or not any(layer.role == "kick" for layer in plan.layers):
            continue
        start, n = meter.bar_frames(e.bar, rate)
        env = low_band(audio[start : start + n], rate)
        frames = env[: len(env) // hop * hop].reshape(-1, hop).max(axis=1)
        flux = np.maximum(np.diff(frames, prepend=0.0), 0.0)
        peaks = [
            i for i in range(len(flux)) if flux[i] > 0.3 * flux.max() and flux[i] == flux[max(0, i - 3) : i + 4].max()
        ]
        beats = [round(b * n / 4 / hop) for b in range(4)]
        assert all(min(abs(p - b) for b in beats) <= 2 for p in peaks), (e.bar, peaks, beats)
        assert all(any(abs(p - b) <= 2 for p in peaks) for b in beats), (e.bar, peaks, beats)
        checked += 1
    assert checked >= 4
