"""The renderer's effects, deterministic and cheap per bar: resonant filters, mid/side width and a stereo reverb
baked into sample copies, and a stereo ping-pong delay whose state is the audio it has been fed (so a replay of the
same plans in the same order reproduces it bit for bit).

Width and reverb are what make a mix stereo without touching its low end: both add only decorrelated signal above
SIDE_HZ, so the kick and the bass stay mono and a mono club system hears the same mix. Baked per copy, the reverb
is exact (it is linear) and costs nothing per bar but the longer add of a one-shot's tail.

Filters are applied in the frequency domain with the biquad's exact complex response (RBJ cookbook): once per
(sample, cutoff step) for one-shots, with a zero-padded tail, and for a loop whose filter holds through the bar,
circularly (the loop's steady state); a sweep picks the nearest step (STEPS_PER_OCTAVE) for each beat or hit, and
filters only the stretch of the loop that beat plays, from as much of the loop before it as the filter rings
(``filtered_span``), so steady bars cost nothing and a sweep a few milliseconds a beat.
"""

from __future__ import annotations

import functools
import math

import numpy as np

STEPS_PER_OCTAVE = 3
LOWEST_HZ = 20.0
OPEN_LOWPASS_HZ = 18_000.0
"""A low-pass at or above this is no filter at all (and a high-pass at or below LOWEST_HZ * 1.5)."""
TAIL_FRAMES = 4096
"""Room after a one-shot for the filter's ringing."""
SIDE_HZ = 150.0
"""Nothing below this leaves the middle: the width and the reverb keep the low end mono."""
DECORRELATOR_FRAMES = 1024
"""The all-pass that makes a side from the mid: 23 ms at 44.1 kHz, short enough to smear no transient."""
DECORRELATOR_SEED = 11
REVERB_RT60_S = 1.6
"""The reverb's decay to -60 dB: a techno room, long enough for stabs and claps to bloom."""
REVERB_S = 1.2
"""The tail kept (it is down 45 dB there): each one-shot's copy carries it, so it is what a hit costs to add."""
REVERB_PREDELAY_S = 0.018
REVERB_DAMP_HZ = 3000.0
"""Above this the tail dies three times faster (air absorbs the highs)."""
REVERB_SEED = 5
RINGING = 1e-7
"""A swept span is filtered from the loop before it until the filter's ringing has fallen by this much (-140 dB,
under float32's resolution): the span then matches the whole loop filtered to within float32 rounding."""


def step_of(hz: float) -> int:
    return round(STEPS_PER_OCTAVE * math.log2(max(hz, LOWEST_HZ) / LOWEST_HZ))


def hz_of(step: int) -> float:
    return LOWEST_HZ * 2.0 ** (step / STEPS_PER_OCTAVE)


def bypassed(kind: str, step: int) -> bool:
    hz = hz_of(step)
    return hz >= OPEN_LOWPASS_HZ if kind == "lowpass" else hz <= LOWEST_HZ * 1.5


def glide(hz: float, hz_end: float, position: float) -> float:
    """The cutoff ``position`` (0..1) of the way through a geometric glide."""
    lo, hi = max(hz, LOWEST_HZ), max(hz_end, LOWEST_HZ)
    return lo * (hi / lo) ** position


def unit_circle(frames: int, rate: int) -> np.ndarray:
    """z^-1 at the rfft bins of ``frames`` frames: the part of every response that no cutoff changes."""
    return np.exp(-2j * math.pi * np.fft.rfftfreq(frames, 1.0 / rate) / rate)


def biquad(kind: str, hz: float, q: float, rate: int, z: np.ndarray) -> np.ndarray:
    """Complex response of the RBJ cookbook low-/high-pass at the bins whose z^-1 is ``z``."""
    w0 = 2 * math.pi * min(hz, 0.49 * rate) / rate
    alpha, cos = math.sin(w0) / (2 * q), math.cos(w0)
    b = ((1 - cos) / 2, 1 - cos, (1 - cos) / 2) if kind == "lowpass" else ((1 + cos) / 2, -(1 + cos), (1 + cos) / 2)
    a = (1 + alpha, -2 * cos, 1 - alpha)
    return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)


def transform_frames(frames: int, circular: bool) -> int:
    """The length ``spectrum`` transforms ``frames`` frames at: a loop's own (circular); a one-shot's padded by
    TAIL_FRAMES for the ringing, and on to a length the FFT takes quickly (a large prime factor in it made a
    one-shot's filter cost 10-25 ms a step instead of 1-3)."""
    return frames if circular else _fast_length(frames + TAIL_FRAMES)


def spectrum(data: np.ndarray, circular: bool) -> np.ndarray:
    """The rfft of ``data`` (frames, 2) as ``filtered`` takes it, at ``transform_frames``. A sweep filters the same
    spectrum at every step, so it is made once."""
    return np.fft.rfft(data.astype(np.float64), n=transform_frames(data.shape[0], circular), axis=0)


def filtered(spectrum: np.ndarray, frames: int, kind: str, step: int, q: float, rate: int, z: np.ndarray) -> np.ndarray:
    """The audio of ``spectrum`` (of ``frames`` frames; ``z`` its ``unit_circle``) through the filter at cutoff
    ``step``, float32."""
    out = np.fft.irfft(spectrum * biquad(kind, hz_of(step), q, rate, z)[:, None], n=frames, axis=0)
    return out.astype(np.float32)


def filtered_span(data: np.ndarray, start: int, frames: int, kind: str, step: int, q: float, rate: int) -> np.ndarray:
    """``frames`` frames of the loop ``data`` from ``start`` on (circularly) through the filter at cutoff ``step``,
    float32: the loop's steady state, as the whole loop filtered circularly holds it, computed from only the
    frames before the span that the filter still hears (``ringing``). A sweep holds a step for a beat: this costs a
    transform of about a beat rather than of the whole loop (a 4-bar loop: 30 times fewer frames, no copy kept)."""
    hz = hz_of(step)
    history = ringing(kind, hz, q, rate)
    n = _fast_length(history + frames)
    picked = np.take(data, np.arange(start - history, start + frames) % data.shape[0], axis=0)
    spectrum = np.fft.rfft(picked.astype(np.float64), n=n, axis=0)
    out = np.fft.irfft(spectrum * biquad(kind, hz, q, rate, _unit_circle(n, rate))[:, None], n=n, axis=0)
    return out[history : history + frames].astype(np.float32)


def ringing(kind: str, hz: float, q: float, rate: int) -> int:
    """Frames until the filter's impulse response has fallen by RINGING (its slowest pole's decay, the sum of the
    tail included)."""
    w0 = 2 * math.pi * min(hz, 0.49 * rate) / rate
    alpha = math.sin(w0) / (2 * q)
    radius = float(np.abs(np.roots([1 + alpha, -2 * math.cos(w0), 1 - alpha])).max())
    if radius >= 1.0:
        raise ValueError(f"an unstable {kind} at {hz:.1f} Hz, q {q}")
    return math.ceil(math.log(RINGING * (1.0 - radius)) / math.log(radius)) + 2


@functools.lru_cache(maxsize=16)
def _unit_circle(frames: int, rate: int) -> np.ndarray:
    return unit_circle(frames, rate)


def spread(data: np.ndarray, width: float, reverb: float, rate: int, circular: bool) -> np.ndarray:
    """``data`` placed in the stereo field, in one transform: mid/side widened by ``width`` (0..1: that much of a
    decorrelated copy of the mid above SIDE_HZ joins the side, then the whole is scaled back to the input's power,
    so the mono sum keeps its shape, with no comb filter as a Haas delay makes), and ``reverb`` (0..1) of the mid
    through the stereo reverb added. Circular for loops (their steady state wraps around); one-shots grow by the
    decorrelator's length and the reverb's tail."""
    w = min(max(width, 0.0), 1.0)
    frames = n = data.shape[0]
    if not circular:
        frames += (DECORRELATOR_FRAMES if w > 0.0 else 0) + (_impulse(rate).shape[0] if reverb > 0.0 else 0)
        n = _fast_length(frames)  # the linear convolution fits in ``frames``: the rest is zeros
    # One channel at a time and in place where it can be (the same arithmetic as the plain expressions, and a
    # channel's transform is the same as its lane of a two-channel one: the same bytes): a 4-bar loop's spectrum is
    # 2.6 MB a channel, and every temporary adds to the render worker's peak memory.
    left = np.fft.rfft(data[:, 0].astype(np.float64), n=n)
    right = np.fft.rfft(data[:, 1].astype(np.float64), n=n)
    side = left - right
    left += right
    del right
    mid = left
    mid *= 0.5
    side *= 0.5
    if w > 0.0:
        wide = mid * w
        wide *= _decorrelator(n, rate)
        wide += side
        after = _energy(mid) + _energy(wide)
        scale = math.sqrt((_energy(mid) + _energy(side)) / after) if after > 0.0 else 1.0
        mid *= scale
        wide *= scale
        side = wide
    wet = mid * reverb if reverb > 0.0 else None
    out = np.empty((frames, 2), np.float32)
    for channel, placed in enumerate((np.add, np.subtract)):  # left = mid + side, right = mid - side
        spectrum = placed(mid, side)
        if wet is not None:
            spectrum += np.multiply(wet, _impulse_spectrum(n, rate, circular)[:, channel])
        out[:, channel] = np.fft.irfft(spectrum, n=n)[:frames]
        del spectrum
    return out


def _fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: a length the FFT takes in a few milliseconds (a large prime factor in a
    one-shot's padded length cost 100 ms)."""
    best, five = 2 * n, 1
    while five < best:
        three = five
        while three < best:
            two = three
            while two < n:
                two *= 2
            best = min(best, two)
            three *= 3
        five *= 5
    return best


def _energy(spectrum: np.ndarray) -> float:
    return float(np.vdot(spectrum, spectrum).real)


def _highpass(freqs: np.ndarray) -> np.ndarray:
    """An 8th-order Butterworth magnitude at SIDE_HZ (-19 dB an octave under): what may leave the middle."""
    r = (freqs / SIDE_HZ) ** 16
    return np.sqrt(r / (1.0 + r))


@functools.lru_cache(maxsize=1)
def _decorrelator(n: int, rate: int) -> np.ndarray:
    """Spectrum (n-point rfft) of a fixed short random-phase all-pass, high-passed at SIDE_HZ: flat in level, so
    the side it makes has the mid's timbre but not its waveform."""
    rng = np.random.default_rng(DECORRELATOR_SEED)
    burst = rng.standard_normal(DECORRELATOR_FRAMES) * np.exp(
        -np.arange(DECORRELATOR_FRAMES) / (DECORRELATOR_FRAMES / 5)
    )
    spectrum = np.fft.rfft(burst, n=n)
    return spectrum / np.maximum(np.abs(spectrum), 1e-12) * _highpass(np.fft.rfftfreq(n, 1.0 / rate))


@functools.lru_cache(maxsize=1)
def _impulse_spectrum(n: int, rate: int, circular: bool) -> np.ndarray:
    """The reverb's n-point spectrum per side; for a loop of n frames the tail is folded onto itself first."""
    ir = _impulse(rate)
    if circular:
        folded = np.zeros((n, 2))
        for k in range(0, ir.shape[0], n):
            part = ir[k : k + n]
            folded[: part.shape[0]] += part
        ir = folded
    return np.fft.rfft(ir, n=n, axis=0)


@functools.lru_cache(maxsize=4)
def _impulse(rate: int) -> np.ndarray:
    """The reverb's impulse response (frames, 2): independent noise per side (so the tails are decorrelated) with
    an exponential decay of REVERB_RT60_S to -60 dB, the highs dying faster (a darker tail), a short pre-delay,
    nothing below SIDE_HZ, faded out over its last tenth at REVERB_S, each side of unit energy."""
    frames = int(REVERB_S * rate)
    t = np.arange(frames) / rate
    noise = np.random.default_rng(REVERB_SEED).standard_normal((frames, 2))
    freqs = np.fft.rfftfreq(frames, 1.0 / rate)
    dark = np.fft.irfft(
        np.fft.rfft(noise, axis=0) / np.sqrt(1.0 + (freqs / REVERB_DAMP_HZ) ** 4)[:, None], n=frames, axis=0
    )
    decay = np.exp(-6.9 * t / REVERB_RT60_S)[:, None]
    bright = np.exp(-6.9 * t / (REVERB_RT60_S / 3))[:, None]
    onset = np.minimum(1.0, t / 0.01)[:, None]
    tail = (dark * decay + (noise - dark) * bright) * onset
    ir = np.concatenate([np.zeros((int(REVERB_PREDELAY_S * rate), 2)), tail])
    n = ir.shape[0]
    ir = np.fft.irfft(np.fft.rfft(ir, axis=0) * _highpass(np.fft.rfftfreq(n, 1.0 / rate))[:, None], n=n, axis=0)
    ir *= np.minimum(1.0, (n - np.arange(n)) / (0.1 * frames))[:, None]
    return ir / np.sqrt((ir**2).sum(axis=0, keepdims=True))


class PingPong:
    """A stereo delay fed by the layers' sends: each repeat comes ``delay`` frames later from the other side,
    ``feedback`` quieter and a little darker (the average of each frame and the one before). Its line is a buffer
    indexed like the renderer's accumulator (absolute positions kept by the caller), so it carries across bars with
    no state but audio: the line, and the last frame it was fed.

    The line holds its input divided by ``feedback`` (a send enters it at ``send * input_gain``): then a repeat is
    the line's average times ``feedback``, and it joins the mix and the line by the same add."""

    def __init__(self, feedback: float = 0.42) -> None:
        self.feedback = feedback
        self.input_gain = 1.0 / feedback
        """What a send level is multiplied by to enter the line."""
        self._turn = np.complex64(0.5j * feedback)
        """On a complex view of stereo frames (left + i right), this times the conjugate crosses the channels and
        halves the pair's sum, scaled back from the line's level."""
        self._before = np.zeros(2, np.float32)
        """The last frame of the line processed, for the first echo of the next call."""

    def process(self, line: np.ndarray, wet: np.ndarray, scratch: np.ndarray, head: int, n: int, delay: int) -> int:
        """Echo ``line[head:head+n]`` (the sends, and the echoes fed back) ``delay`` frames on, into ``wet`` (the mix)
        and back into ``line``; returns the end (exclusive) of what was written."""
        pos, end = head, head + n
        if scratch.shape[0] < delay:
            scratch = np.empty((delay, 2), np.float32)
        while pos < end:
            chunk = min(delay, end - pos)
            echo = scratch[:chunk]
            np.add(line[pos], self._before if pos == head else line[pos - 1], out=echo[0])
            np.add(line[pos + 1 : pos + chunk], line[pos : pos + chunk - 1], out=echo[1:])
            crossed = echo.view(np.complex64)
            np.conjugate(crossed, out=crossed)
            crossed *= self._turn
            wet[pos + delay : pos + delay + chunk] += echo
            line[pos + delay : pos + delay + chunk] += echo
            pos += chunk
        self._before[:] = line[end - 1]
        return end + delay

    def rest(self) -> None:
        """The line has gone silent: the next echo starts from silence."""
        self._before[:] = 0.0
