"""Measuring a rendered set as a listener would: loudness (ITU-R BS.1770), brightness, stereo width, silence, and
how the arrangement moves (identical runs, phrases that change; the textures are counted by ``texture.py``).

Pure numpy, no I/O. Loudness applies the K-weighting's magnitude response to the power spectrum of each 400 ms
gating block (Parseval), which is what the standard's mean square of the filtered block measures up to the
filters' few-millisecond transients; blocks overlap by 75 %, with the absolute (-70 LUFS) and relative (-10 LU)
gates of BS.1770-4.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import msgspec
import numpy as np

from bergain_actors.music.arrangement import ORNAMENTS
from bergain_actors.music.plan import BarPlan

BLOCK_S = 0.4
HOP_S = 0.1
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
HIGHS_HZ = 150.0
"""Above the kick and the bass, which a techno mix keeps mono and which carry most of its power."""
SILENCE_DBFS = -60.0
"""A second whose RMS is below this is counted silent (a lone quiet hi-hat is about -35 dBFS)."""


def _biquad_response(b: tuple[float, ...], a: tuple[float, ...], w: np.ndarray) -> np.ndarray:
    z = np.exp(-1j * w)
    return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)


def k_weighting_power(n: int, rate: int) -> np.ndarray:
    """|H(f)|^2 of BS.1770's K-weighting (high shelf + RLB high-pass) at the ``n // 2 + 1`` rfft bins.

    The filters are derived for any rate from their analogue prototypes (Brecht De Man's derivation); at 48 kHz
    they match the standard's published coefficients."""
    w = 2 * math.pi * np.fft.rfftfreq(n, 1.0 / rate) / rate
    gain_db, q, fc = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = math.tan(math.pi * fc / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = _biquad_response(
        ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0),
        (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0),
        w,
    )
    q, fc = 0.5003270373238773, 38.13547087602444
    k = math.tan(math.pi * fc / rate)
    a0 = 1 + k / q + k * k
    highpass = _biquad_response((1.0, -2.0, 1.0), (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0), w)
    return np.abs(shelf * highpass) ** 2


class Blocks(msgspec.Struct, frozen=True):
    """Per 400 ms block (hop 100 ms): K-weighted mean square summed over channels, and the spectral centroid."""

    starts: np.ndarray
    """First frame of each block."""
    power: np.ndarray
    centroid: np.ndarray
    """Hz; 0 for a silent block."""
    raw_power: np.ndarray
    """Unweighted mean square of the mid signal, the centroid's weight."""
    highs: np.ndarray
    """Per block, above HIGHS_HZ: (left power, right power, their cross power), for the width of what is not bass."""


def blocks(audio: np.ndarray, rate: int) -> Blocks:
    """Analyse ``audio`` (frames, 2) float in 400 ms blocks every 100 ms."""
    n, hop = int(BLOCK_S * rate), int(HOP_S * rate)
    count = max(0, (audio.shape[0] - n) // hop + 1)
    weight = k_weighting_power(n, rate)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    parseval = np.full(n // 2 + 1, 2.0)
    parseval[0] = 1.0
    if n % 2 == 0:
        parseval[-1] = 1.0
    parseval /= float(n) * n
    power, centroid, raw = np.zeros(count), np.zeros(count), np.zeros(count)
    highs = np.zeros((count, 3))
    above = freqs >= HIGHS_HZ
    starts = np.arange(count) * hop
    for first in range(0, count, 128):
        idx = starts[first : first + 128]
        frames = np.stack([audio[s : s + n] for s in idx]).astype(np.float64)  # (b, n, 2)
        spectra = np.fft.rfft(frames, axis=1)
        spec = np.abs(spectra) ** 2 * parseval[None, :, None]
        left, right = spectra[:, above, 0], spectra[:, above, 1]
        highs[first : first + len(idx)] = np.stack(
            [
                (np.abs(left) ** 2).sum(axis=1),
                (np.abs(right) ** 2).sum(axis=1),
                (left * np.conj(right)).real.sum(axis=1),
            ],
            axis=1,
        )
        power[first : first + len(idx)] = (spec * weight[None, :, None]).sum(axis=(1, 2))
        mid = np.abs(np.fft.rfft(frames.mean(axis=2), axis=1)) ** 2 * parseval[None, :]
        total = mid.sum(axis=1)
        raw[first : first + len(idx)] = total
        weighted = (mid * freqs).sum(axis=1) / np.maximum(total, 1e-30)
        centroid[first : first + len(idx)] = np.where(total > 0, weighted, 0.0)
    return Blocks(starts=starts, power=power, centroid=centroid, raw_power=raw, highs=highs)


def _lufs(power: np.ndarray) -> float:
    return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf


def gated_loudness(power: np.ndarray) -> float:
    """Integrated loudness (LUFS) of a set of block powers, gated as BS.1770-4 says; -inf if all is silent."""
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(power)
    kept = power[loud > ABSOLUTE_GATE]
    if kept.size == 0:
        return -math.inf
    relative = _lufs(float(kept.mean())) + RELATIVE_GATE
    with np.errstate(divide="ignore"):
        final = kept[-0.691 + 10 * np.log10(kept) > relative]
    return _lufs(float(final.mean())) if final.size else -math.inf


def integrated_lufs(audio: np.ndarray, rate: int) -> float:
    return gated_loudness(blocks(audio, rate).power)


def segment(b: Blocks, start: int, end: int, rate: int) -> np.ndarray:
    """Indices of the blocks lying wholly inside frames [start, end)."""
    n = int(BLOCK_S * rate)
    return np.flatnonzero((b.starts >= start) & (b.starts + n <= end))


def segment_loudness(b: Blocks, start: int, end: int, rate: int) -> float:
    return gated_loudness(b.power[segment(b, start, end, rate)])


def segment_centroid(b: Blocks, start: int, end: int, rate: int) -> float:
    """Power-weighted mean spectral centroid (Hz) of the blocks inside [start, end)."""
    idx = segment(b, start, end, rate)
    weight = b.raw_power[idx]
    return float((b.centroid[idx] * weight).sum() / weight.sum()) if weight.sum() > 0 else 0.0


def stereo_correlation(audio: np.ndarray) -> float:
    """Pearson correlation of left and right over the whole signal: 1.0 is mono, 0 is unrelated channels."""
    left, right = audio[:, 0].astype(np.float64), audio[:, 1].astype(np.float64)
    denominator = math.sqrt(float(left @ left) * float(right @ right))
    return float(left @ right) / denominator if denominator > 0 else 1.0


def highs_correlation(b: Blocks) -> float:
    """Left/right correlation above HIGHS_HZ (from the blocks' cross spectra): how wide everything but the low end
    is; 1.0 is mono."""
    left, right, cross = b.highs.sum(axis=0)
    return float(cross / math.sqrt(left * right)) if left > 0 and right > 0 else 1.0


def silent_seconds(audio: np.ndarray, rate: int, skip_frames: int = 0) -> int:
    """Whole seconds after ``skip_frames`` whose RMS is below SILENCE_DBFS."""
    body = audio[skip_frames:]
    seconds = body.shape[0] // rate
    if seconds == 0:
        return 0
    chunks = body[: seconds * rate].astype(np.float64).reshape(seconds, rate * body.shape[1])
    rms = np.sqrt((chunks**2).mean(axis=1))
    return int(np.count_nonzero(rms < 10 ** (SILENCE_DBFS / 20)))


# --- the arrangement, from the plans in the order they played ------------------------------------------------------


def sound(plan: BarPlan) -> bytes:
    """The groove of a bar without its number and its one-bar transitions (a fill is not a change): equal bytes
    sound the same."""
    groove = tuple(layer for layer in plan.layers if layer.role not in ORNAMENTS)
    return msgspec.msgpack.encode(msgspec.structs.replace(plan, bar=0, energy=0.0, target=0.0, layers=groove))


def longest_identical_run(plans: Sequence[BarPlan]) -> int:
    """The most consecutive bars that sound exactly alike."""
    best = run = 0
    previous = None
    for plan in plans:
        current = sound(plan)
        run = run + 1 if current == previous else 1
        best, previous = max(best, run), current
    return best


def phrases(plans: Sequence[BarPlan], phrase_bars: int = 16) -> list[list[BarPlan]]:
    return [list(plans[i : i + phrase_bars]) for i in range(0, len(plans), phrase_bars)]


def changed_phrases(plans: Sequence[BarPlan], phrase_bars: int = 16) -> list[bool]:
    """Per phrase after the first: whether any bar in it sounds different from the bar before it."""
    out = []
    sounds = [sound(p) for p in plans]
    for start in range(phrase_bars, len(plans), phrase_bars):
        out.append(any(sounds[i] != sounds[i - 1] for i in range(start, min(start + phrase_bars, len(plans)))))
    return out


def identical_consecutive_phrases(plans: Sequence[BarPlan], phrase_bars: int = 16) -> int:
    """Phrases that sound bar for bar like the one before them."""
    groups = [tuple(sound(p) for p in group) for group in phrases(plans, phrase_bars)]
    return sum(1 for a, b in itertools.pairwise(groups) if a == b)
