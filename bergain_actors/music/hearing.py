"""What the audio critic hears of one rendered bar: loudness, brightness, kick, low end, stereo width.

The streamer measures every bar as it plays it and logs the figures with ``BarPlayed``, so a critic that judges
them decides from events alone and replays exactly. Pure numpy, deterministic, cheap (a spectrum averaged over a
bar's short frames, about a millisecond a bar): it runs on every bar of every set.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

FRAME = 2048
"""Samples per analysis frame: 46 ms at 44.1 kHz, 21.5 Hz per bin."""

STRIDE = 4
"""The spectrum reads one frame in every STRIDE (10 frames of a bar at 128 BPM, spread across its beats)."""

LOW_HZ = 150.0
"""Below this is the low end (kick body, bass)."""

KICK_BAND = (40.0, 110.0)
KICK_RATIO = 2.0
"""A beat carries a kick when its onset's kick band is this many times what it was just before the beat..."""
KICK_SHARE = 0.2
"""...and holds at least this share of the onset's power."""


class Hearing(msgspec.Struct, frozen=True, omit_defaults=True):
    """The measured figures of one bar."""

    loudness_db: float = -120.0
    """RMS level of the bar (dBFS, both channels)."""
    centroid_hz: float = 0.0
    """Power-weighted mean frequency: low means dark, high means bright."""
    kick: float = 0.0
    """Share of the bar's beats that start with a kick-like thump (0..1)."""
    low_end: float = 0.0
    """Share of the bar's power below ``LOW_HZ`` (0..1)."""
    width: float = 0.0
    """The side signal's share of the power: 0 is mono, 0.5 unrelated channels, 1 opposite ones."""


def hear(audio: np.ndarray, rate: int, beats: int) -> Hearing:
    """Measure one bar of (frames, 2) audio that holds ``beats`` beats."""
    frames = audio.shape[0]
    if frames < 2 * FRAME:
        return Hearing()
    mono = audio[:, 0] + audio[:, 1]  # twice the mid signal: scale does not matter to any figure below
    flat = audio.reshape(-1)
    energy = float(np.dot(flat, flat))  # L² + R²
    power = energy / flat.size
    loudness = 10 * math.log10(power) if power > 1e-12 else -120.0
    window, freqs, low, band = _grid(rate)
    count = frames // (STRIDE * FRAME)  # every STRIDE-th frame: a quarter of the cost, the same spectrum of a groove
    beat = frames / beats
    starts = [int(i * beat) for i in range(beats)]
    onsets = starts[-1] + FRAME <= frames and int(beat) >= 2 * FRAME
    before = [max(0, s - FRAME) if s else int(beat) - FRAME for s in starts] if onsets else []
    spread = [i * STRIDE * FRAME for i in range(count)]
    blocks = np.stack([mono[s : s + FRAME] for s in spread + (starts + before if onsets else [])]) * window
    spectra = np.fft.rfft(blocks)  # one call for all frames; float64, where pocketfft is faster than in float32
    power_bins = spectra.real**2 + spectra.imag**2
    spectrum = power_bins[:count].sum(axis=0)
    total = float(spectrum.sum())
    centroid = float(spectrum @ freqs / total) if total > 0 else 0.0
    low_end = float(spectrum[low].sum() / total) if total > 0 else 0.0
    kicks = 0
    if onsets:
        at = power_bins[count:]
        thump = at[:, band].sum(axis=1)
        loud = thump[:beats] > KICK_SHARE * at[:beats].sum(axis=1)  # the onset is mostly kick band...
        kicks = int(np.count_nonzero(loud & (thump[:beats] > KICK_RATIO * thump[beats:] + 1e-9)))  # ...and new
    width = 1.0 - float(np.dot(mono, mono)) / (2 * energy) if energy > 0 else 0.0  # the side's share of L² + R²
    return Hearing(
        loudness_db=round(loudness, 2),
        centroid_hz=round(centroid, 1),
        kick=round(kicks / beats, 3),
        low_end=round(low_end, 4),
        width=round(max(0.0, width), 4),
    )


_GRIDS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _grid(rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The analysis window (float64), the bins' frequencies, the low-end bins and the kick band's, per rate."""
    if rate not in _GRIDS:
        freqs = np.fft.rfftfreq(FRAME, 1.0 / rate)
        band = (freqs >= KICK_BAND[0]) & (freqs <= KICK_BAND[1])
        _GRIDS[rate] = (np.hanning(FRAME), freqs, freqs < LOW_HZ, band)
    return _GRIDS[rate]
