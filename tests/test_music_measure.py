"""The set's measures against known signals: BS.1770's own calibration points and hand-built arrangements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bergain_actors.music import measure
from bergain_actors.music.plan import BarPlan, Layer

RATE = 44100


def sine(hz: float, seconds: float, rate: int = RATE, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * math.pi * hz * t)).astype(np.float32)


def test_k_weighting_matches_the_published_48k_coefficients():
    n, rate = 4800, 48000
    freqs = np.fft.rfftfreq(n, 1 / rate)
    z = np.exp(-2j * math.pi * freqs / rate)

    def biquad(b, a):
        return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)

    published = biquad(
        (1.53512485958697, -2.69169618940638, 1.19839281085285), (1, -1.69065929318241, 0.73248077421585)
    )
    published *= biquad((1.0, -2.0, 1.0), (1, -1.99004745483398, 0.99007225036621))
    ours = measure.k_weighting_power(n, rate)
    assert np.allclose(10 * np.log10(ours[1:]), 10 * np.log10(np.abs(published[1:]) ** 2), atol=1e-6)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_full_scale_1k_sine_in_one_channel_reads_minus_3_lufs(rate):
    x = sine(997, 10, rate)
    assert measure.integrated_lufs(np.stack([x, np.zeros_like(x)], axis=1), rate) == pytest.approx(-3.01, abs=0.05)
    assert measure.integrated_lufs(np.stack([x, x], axis=1) * 0.1, rate) == pytest.approx(-20.0, abs=0.05)


def test_gates_ignore_silence_and_very_quiet_passages():
    x = sine(997, 10) * 0.1
    loud = np.stack([x, x], axis=1)
    with_silence = np.concatenate([loud, np.zeros_like(loud)])
    with_whisper = np.concatenate([loud, loud * 0.01])  # -40 LU: under the relative gate
    reference = measure.integrated_lufs(loud, RATE)
    # only the three blocks straddling the edge count, as the standard says: within 0.1 LU
    assert measure.integrated_lufs(with_silence, RATE) == pytest.approx(reference, abs=0.1)
    assert measure.integrated_lufs(with_whisper, RATE) == pytest.approx(reference, abs=0.1)
    assert measure.integrated_lufs(np.concatenate([loud, loud * 0.3]), RATE) < reference - 1  # -10.5 LU: counted
    assert measure.integrated_lufs(np.zeros((RATE, 2), np.float32), RATE) == -math.inf


def test_centroid_finds_the_tone_and_segments_split_the_loudness():
    low, high = sine(200, 4) * 0.5, sine(4000, 4) * 0.05
    audio = np.stack([np.concatenate([low, high])] * 2, axis=1)
    blocks = measure.blocks(audio, RATE)
    half = 4 * RATE
    assert measure.segment_centroid(blocks, 0, half, RATE) == pytest.approx(200, rel=0.05)
    assert measure.segment_centroid(blocks, half, 2 * half, RATE) == pytest.approx(4000, rel=0.05)
    quiet, loud = (
        measure.segment_loudness(blocks, half, 2 * half, RATE),
        measure.segment_loudness(blocks, 0, half, RATE),
    )
    assert 15 < loud - quiet < 25  # 20 dB less amplitude, less K-weighting boost at 200 Hz than at 4 kHz


def test_stereo_correlation_and_silent_seconds():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(RATE * 3).astype(np.float32), rng.standard_normal(RATE * 3).astype(np.float32)
    assert measure.stereo_correlation(np.stack([a, a], axis=1)) == pytest.approx(1.0)
    assert abs(measure.stereo_correlation(np.stack([a, b], axis=1))) < 0.01
    assert measure.stereo_correlation(np.stack([a, -a], axis=1)) == pytest.approx(-1.0)
    bass = sine(60, 3) * 2.0  # loud, mono, under 150 Hz: it dominates the broadband figure, not the highs'
    mixed = np.stack([bass + 0.1 * a, bass + 0.1 * b], axis=1)
    assert measure.stereo_correlation(mixed) > 0.95
    assert abs(measure.highs_correlation(measure.blocks(mixed, RATE))) < 0.05
    audio = np.stack([a, b], axis=1) * 0.1
    audio[RATE : 2 * RATE] *= 1e-4  # -80 dB: silent
    assert measure.silent_seconds(audio, RATE) == 1
    assert measure.silent_seconds(audio, RATE, skip_frames=RATE + RATE // 2) == 0


def plan(bar: int, *roles: str, gain: float = 0.8) -> BarPlan:
    return BarPlan(bar=bar, bpm=128, layers=tuple(Layer(r, f"{r}/x.wav", gain, hits=(0,)) for r in roles))


def test_arrangement_measures_on_a_built_sequence():
    plans = [plan(i, "kick") for i in range(16)]  # phrase 0
    plans += [plan(16 + i, "kick", "hihat") for i in range(16)]  # phrase 1: a change at its first bar
    plans += [plan(32 + i, "kick", "hihat") for i in range(16)]  # phrase 2: the same as phrase 1
    plans += [plan(48 + i, "kick", "hihat", gain=0.8 if i < 8 else 0.7) for i in range(16)]  # phrase 3: a fader
    assert measure.longest_identical_run(plans) == 40
    assert measure.changed_phrases(plans) == [True, False, True]
    assert measure.identical_consecutive_phrases(plans) == 1
