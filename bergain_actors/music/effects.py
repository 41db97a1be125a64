"""The renderer's effects, deterministic and cheap per bar: resonant filters baked into sample copies, Haas width,
and a stereo ping-pong delay whose state is the audio it has been fed (so a replay of the same plans in the same
order reproduces it bit for bit).

Filters are applied once per (sample, cutoff step) in the frequency domain with the biquad's exact complex
response (RBJ cookbook), circularly for loops (a loop's steady state) and with a zero-padded tail for one-shots;
a sweep picks the copy at the nearest step (STEPS_PER_OCTAVE) for each beat or hit, so steady bars cost nothing.
"""

from __future__ import annotations

import math

import numpy as np

STEPS_PER_OCTAVE = 3
LOWEST_HZ = 20.0
OPEN_LOWPASS_HZ = 18_000.0
"""A low-pass at or above this is no filter at all (and a high-pass at or below LOWEST_HZ * 1.5)."""
TAIL_FRAMES = 4096
"""Room after a one-shot for the filter's ringing."""
HAAS_MAX_S = 0.012


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


def spectrum(data: np.ndarray, circular: bool) -> np.ndarray:
    """The rfft of ``data`` (frames, 2) as ``filtered`` takes it: one-shots padded by TAIL_FRAMES for the ringing.
    A sweep filters the same spectrum at every step, so it is made once."""
    src = data if circular else np.concatenate([data, np.zeros((TAIL_FRAMES, data.shape[1]), np.float32)])
    return np.fft.rfft(src.astype(np.float64), axis=0)


def filtered(spectrum: np.ndarray, frames: int, kind: str, step: int, q: float, rate: int, z: np.ndarray) -> np.ndarray:
    """The audio of ``spectrum`` (of ``frames`` frames; ``z`` its ``unit_circle``) through the filter at cutoff
    ``step``, float32."""
    out = np.fft.irfft(spectrum * biquad(kind, hz_of(step), q, rate, z)[:, None], n=frames, axis=0)
    return out.astype(np.float32)


def widened(data: np.ndarray, width: float, rate: int, circular: bool) -> np.ndarray:
    """The right channel delayed by up to HAAS_MAX_S (a wider image, the same mono sum); circular for loops."""
    shift = round(min(max(width, 0.0), 1.0) * HAAS_MAX_S * rate)
    if shift == 0:
        return data
    if circular:
        out = data.copy()
        out[:, 1] = np.roll(data[:, 1], shift)
        return out
    out = np.zeros((data.shape[0] + shift, 2), np.float32)
    out[: data.shape[0], 0] = data[:, 0]
    out[shift:, 1] = data[:, 1]
    return out


class PingPong:
    """A stereo delay fed by the layers' sends: each repeat comes ``delay`` frames later from the other side,
    ``feedback`` quieter and a little darker (a two-tap average). Its buffers are indexed like the renderer's
    accumulator (absolute positions kept by the caller), so it carries across bars with no state but audio."""

    def __init__(self, feedback: float = 0.42) -> None:
        self.feedback = feedback

    def process(self, send: np.ndarray, echo: np.ndarray, scratch: np.ndarray, head: int, n: int, delay: int) -> int:
        """Echo ``send[head:head+n]`` (and the echoes already due there) into ``echo`` ``delay`` frames on, so that
        ``echo[head:head+n]`` is final (the caller mixes it); returns the end (exclusive) of what was written."""
        pos, end = head, head + n
        half = np.float32(0.5)
        if scratch.shape[0] < 2 * delay:
            scratch = np.empty((2 * delay, 2), np.float32)
        while pos < end:
            chunk = min(delay, end - pos)
            src = np.multiply(echo[pos : pos + chunk], np.float32(self.feedback), out=scratch[:chunk])
            src += send[pos : pos + chunk]
            src *= half
            crossed = scratch[chunk : 2 * chunk]  # the two-tap average, channels crossed: one sweep into echo
            crossed[0] = src[0, ::-1]
            np.add(src[1:, 1], src[:-1, 1], out=crossed[1:, 0])
            np.add(src[1:, 0], src[:-1, 0], out=crossed[1:, 1])
            echo[pos + delay : pos + delay + chunk] += crossed
            pos += chunk
        return end + delay
