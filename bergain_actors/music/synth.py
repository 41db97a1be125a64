"""Synthesize the shipped sample pack with our own DSP (numpy only), so the pack is license-clean and reproducible.

Every sound draws its randomness from `default_rng([SEED, crc32(name)])` and nothing reads the clock, so
`write_pack` writes the same bytes on every run. Filters are zero-phase FFT filters (static) or additive
synthesis with per-harmonic gains (time-varying low-pass sweeps without aliasing); loops are built circularly so
they repeat without a seam. Everything is in A minor at 128 BPM.

Regenerate with: python -m bergain_actors.music.synth OUT_DIR
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
BPM = 128
SEED = 0xBE26A1
BEAT = 60.0 / BPM
TWO_PI = 2.0 * np.pi

Array = np.ndarray


def loop_frames(bars: int) -> int:
    """Frames of an n-bar loop at 128 BPM (a bar is 82687.5 frames; round half up)."""
    return (bars * 4 * 60 * SR * 2 // BPM + 1) // 2


def note(name: str) -> float:
    """Equal-tempered frequency of a note name like A1, C#3, Eb4."""
    names = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}
    semis = names[name[0]]
    rest = name[1:]
    if rest[0] in "#b":
        semis += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 440.0 * 2.0 ** ((semis + 12 * (int(rest) - 4)) / 12.0)


# ---------------------------------------------------------------- primitives


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def _t(n: int) -> Array:
    return np.arange(n) / SR


def _n(seconds: float) -> int:
    return round(seconds * SR)


def _lp(f: Array, fc: float, order: int = 2) -> Array:
    return 1.0 / np.sqrt(1.0 + (f / fc) ** (2 * order))


def _hp(f: Array, fc: float, order: int = 2) -> Array:
    return 1.0 / np.sqrt(1.0 + (fc / np.maximum(f, 1e-3)) ** (2 * order))


def _bp(f: Array, lo: float, hi: float, order: int = 2) -> Array:
    return _hp(f, lo, order) * _lp(f, hi, order)


def _reso(f: Array, f0: float, q: float) -> Array:
    """Band-pass resonance with unity gain at f0."""
    r = f / f0
    return (r / q) / np.sqrt((1.0 - r * r) ** 2 + (r / q) ** 2)


def _filter(x: Array, response: Callable[[Array], Array]) -> Array:
    """Zero-phase FFT filter (circular over x's length: pad first where wrap-around would matter)."""
    spec = np.fft.rfft(x, axis=0)
    gain = response(np.fft.rfftfreq(x.shape[0], 1.0 / SR))
    spec *= gain[:, None] if x.ndim == 2 else gain
    return np.fft.irfft(spec, x.shape[0], axis=0)


def _noise(rng: np.random.Generator, n: int, width: float = 0.0) -> Array:
    """Stereo white noise: a shared mid plus `width` of decorrelated side."""
    mid, side = rng.standard_normal((2, n))
    return np.stack([mid + width * side, mid - width * side], axis=1)


def _env(n: int, decay: float, attack: float = 0.0005, hold: float = 0.0) -> Array:
    t = _t(n)
    env = np.exp(-np.maximum(t - hold, 0.0) / decay)
    return env * np.minimum(1.0, t / attack) if attack > 0 else env


def _sat(x: Array, drive: float) -> Array:
    return np.tanh(drive * x) / np.tanh(drive)


def _stereo(x: Array) -> Array:
    return x if x.ndim == 2 else np.stack([x, x], axis=1)


def _lp24(r: Array, q: float) -> Array:
    """Magnitude of a resonant 24 dB/oct low-pass at normalized frequency r = f / cutoff."""
    r2 = r * r
    return 1.0 / np.sqrt(((1.0 - r2) ** 2 + r2 / (q * q)) * (1.0 + r2 * r2))


def _saws(
    freqs: list[float] | list[Array],
    n: int,
    cutoff: Array | float,
    q: float,
    rng: np.random.Generator,
    detune_cents: tuple[float, ...] = (0.0,),
    odd_only: bool = False,
    spread: float = 0.0,
) -> Array:
    """Band-limited saws (or squares) through a resonant low-pass whose cutoff may move: additive synthesis.

    Each harmonic is weighted by the filter's response at its frequency, sample by sample, so sweeps are smooth
    and nothing aliases. Voices are detuned and, with `spread`, panned across the stereo field.
    """
    cut = np.broadcast_to(np.asarray(cutoff, dtype=float), (n,))
    inv_cut = 1.0 / cut
    out = np.zeros((n, 2))
    voices = [(f, d) for f in freqs for d in detune_cents]
    for i, (f, cents) in enumerate(voices):
        freq = np.broadcast_to(np.asarray(f, dtype=float) * 2.0 ** (cents / 1200.0), (n,))
        phase = TWO_PI * np.cumsum(freq) / SR + rng.uniform(0.0, TWO_PI)
        top = float(freq.max())
        voice = np.zeros(n)
        step = 2 if odd_only else 1
        for k in range(1, int(0.45 * SR / top) + 1, step):
            if _lp24(np.array([k * float(freq.min()) / float(cut.max())]), q)[0] / k < 1e-4:
                break
            voice += _lp24(k * freq * inv_cut, q) / k * np.sin(k * phase)
        pos = (i / max(1, len(voices) - 1) * 2.0 - 1.0) * spread if len(voices) > 1 else 0.0
        out[:, 0] += voice * np.sqrt(0.5 * (1.0 - pos))
        out[:, 1] += voice * np.sqrt(0.5 * (1.0 + pos))
    return out / len(voices)


def _periodic_saws(
    freqs: list[float], n: int, cutoff: float, q: float, rng: np.random.Generator, detune: float, spread: float
) -> Array:
    """Static-filtered detuned saws whose partials are snapped to n-periodic bins: a seamless n-frame loop."""
    spec = np.zeros((n // 2 + 1, 2), complex)
    for f in freqs:
        for j, cents in enumerate((-detune, 0.0, detune)):
            base = max(1, round(f * 2.0 ** (cents / 1200.0) * n / SR))
            pos = (j - 1) * spread
            pan = np.array([np.sqrt(0.5 * (1.0 - pos)), np.sqrt(0.5 * (1.0 + pos))])
            phase0 = rng.uniform(0.0, TWO_PI)
            k = np.arange(1, (n // 2 - 1) // base + 1)
            k = k[k * base * SR / n < 0.45 * SR]
            amp = _lp24(k * base * SR / n / cutoff, q) / k
            keep = amp > 1e-5
            k, amp = k[keep], amp[keep]
            spec[k * base] += (amp * np.exp(1j * (k * phase0 - np.pi / 2)))[:, None] * pan * (n / 2)
    return np.fft.irfft(spec, n, axis=0) / (3 * len(freqs))


def _ir(rng: np.random.Generator, rt60: float, damp_hz: float = 5000.0, predelay: float = 0.012) -> Array:
    """A stereo reverb impulse response: decaying noise whose highs die faster than its lows."""
    m = _n(rt60 * 1.1)
    t = _t(m)
    noise = _noise(rng, m, width=1.0)
    low = _filter(noise, lambda f: _lp(f, damp_hz, 1))
    high = noise - low
    ir = low * np.exp(-6.91 * t / rt60)[:, None] + high * np.exp(-6.91 * t / (0.35 * rt60))[:, None]
    ir *= np.minimum(1.0, t / 0.004)[:, None]
    ir = np.concatenate([np.zeros((_n(predelay), 2)), ir])
    return ir / np.sqrt(np.sum(ir * ir) / 2.0)


def _convolve(x: Array, ir: Array, circular: bool = False) -> Array:
    """Stereo convolution by FFT; linear (output as long as x plus the tail) or circular (same length)."""
    x = _stereo(x)
    if circular:
        n = x.shape[0]
        folded = np.zeros((n, 2))
        for i in range(0, ir.shape[0], n):
            seg = ir[i : i + n]
            folded[: seg.shape[0]] += seg
        return np.fft.irfft(np.fft.rfft(x, axis=0) * np.fft.rfft(folded, axis=0), n, axis=0)
    n = x.shape[0] + ir.shape[0] - 1
    size = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(x, size, axis=0) * np.fft.rfft(ir, size, axis=0)
    return np.fft.irfft(spec, size, axis=0)[:n]


def _reverb(x: Array, rng: np.random.Generator, rt60: float, mix: float, damp_hz: float = 5000.0) -> Array:
    """Dry plus `mix` of a synthetic room, extended by the tail."""
    wet = _convolve(x, _ir(rng, rt60, damp_hz)) * 0.35
    dry = np.zeros_like(wet)
    dry[: x.shape[0]] = _stereo(x)
    return dry + mix * wet


def _echo(x: Array, delay: float, feedback: float, repeats: int, damp_hz: float = 2500.0) -> Array:
    """Ping-pong dub delay: each repeat darker than the last, alternating sides."""
    x = _stereo(x)
    d = _n(delay)
    out = np.zeros((x.shape[0] + d * repeats, 2))
    out[: x.shape[0]] += x
    for i in range(1, repeats + 1):
        rep = _filter(np.concatenate([x, np.zeros((d, 2))]), lambda f, i=i: _lp(f, damp_hz, 1) ** i)
        side = np.array([0.35, 1.0]) if i % 2 else np.array([1.0, 0.35])
        out[i * d : i * d + rep.shape[0]] += rep[: out.shape[0] - i * d] * side * feedback**i
    return out


def _swept_noise(rng: np.random.Generator, centers: Array, width_oct: float, stereo: float) -> Array:
    """Noise through a band-pass whose centre follows `centers` (Hz per frame): a bank of static bands, faded."""
    n = centers.shape[0]
    spec = np.fft.rfft(_noise(rng, n, stereo), axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    log_center = np.log2(centers)
    out = np.zeros((n, 2))
    for band in np.geomspace(60.0, 16000.0, 28):
        gain = np.exp(-0.5 * ((np.log2(band) - log_center) / width_oct) ** 2)
        if gain.max() < 1e-3:
            continue
        shape = np.exp(-0.5 * (np.log2(np.maximum(freqs, 1.0) / band) / 0.18) ** 2)
        out += np.fft.irfft(spec * shape[:, None], n, axis=0) * gain[:, None]
    return out


def _finish(x: Array, peak: float, trim_db: float = -60.0, fade: float = 0.006) -> Array:
    """Normalize a one-shot to `peak`, cut its inaudible tail and fade the end so it never clicks."""
    x = x / np.max(np.abs(x)) * peak
    loud = np.nonzero(np.max(np.abs(_stereo(x)), axis=1) > peak * 10.0 ** (trim_db / 20.0))[0]
    end = min(x.shape[0], int(loud[-1]) + _n(fade) + 1)
    x = x[:end].copy()
    ramp = np.linspace(1.0, 0.0, min(_n(fade), end))
    x[-ramp.shape[0] :] *= ramp[:, None] if x.ndim == 2 else ramp
    return x


def _normalize(x: Array, peak: float) -> Array:
    return x / np.max(np.abs(x)) * peak


def _place(track: Array, sound: Array, at: int, gain: float = 1.0) -> None:
    """Add `sound` into a circular loop `track` at frame `at`, wrapping its tail to the start."""
    sound = _stereo(sound) if track.ndim == 2 else sound
    n = track.shape[0]
    for start in range(0, sound.shape[0], n):
        seg = sound[start : start + n]
        first = min(seg.shape[0], n - at)
        track[at : at + first] += gain * seg[:first]
        track[: seg.shape[0] - first] += gain * seg[first:]


def _beat_frame(beat: float) -> int:
    return int(beat * BEAT * SR)


# ---------------------------------------------------------------- drums


def _kick(name: str, f0: float, f1: float, pitch_tau: float, decay: float, drive: float, click: float) -> Array:
    """Sine with a falling pitch envelope, a filtered-noise click, soft saturation."""
    rng = _rng(name)
    n = _n(decay * 5 + 0.1)
    t = _t(n)
    freq = f1 + (f0 - f1) * np.exp(-t / pitch_tau)
    body = np.sin(TWO_PI * np.cumsum(freq) / SR) * _env(n, decay, attack=0.0008, hold=0.015)
    transient = _filter(rng.standard_normal(n), lambda f: _bp(f, 1200.0, 7000.0, 1)) * _env(n, 0.0015, 0.0001)
    x = _sat(body + click * transient / np.max(np.abs(transient)), drive)
    return _finish(x, 0.95, trim_db=-54.0)


def _rumble_kick(name: str) -> Array:
    """A kick feeding a dark, distorted reverb, ducked under the dry kick: the warehouse rumble."""
    rng = _rng(name)
    dry = _kick(name + "/dry", 170.0, 55.0, 0.03, 0.16, 2.0, 0.4)
    wet = _convolve(dry, _ir(rng, 1.6, damp_hz=300.0))[:, 0]
    wet = _filter(np.concatenate([wet, np.zeros(_n(0.2))]), lambda f: _bp(f, 35.0, 140.0, 2))[: wet.shape[0]]
    wet = _sat(wet / np.max(np.abs(wet)) * 1.5, 2.5)
    n = _n(0.9)
    x = np.zeros(n)
    x[: dry.shape[0]] += dry
    duck = 1.0 - np.pad(np.abs(dry) / np.max(np.abs(dry)), (0, max(0, n - dry.shape[0])))[:n] ** 0.5
    x += 0.45 * wet[:n] * duck * _env(n, 0.35, attack=0.06)
    return _finish(x, 0.95, trim_db=-54.0)


def _clap(name: str, bursts_ms: tuple[float, ...], lo: float, hi: float, tail: float, rt60: float, mix: float) -> Array:
    """Several noise bursts a few ms apart, band-passed, with a short tail and room."""
    rng = _rng(name)
    n = _n(0.5)
    t = _t(n)
    env = np.zeros(n)
    for i, ms in enumerate(bursts_ms):
        decay = tail if i == len(bursts_ms) - 1 else 0.0035
        shifted = np.maximum(t - ms / 1000.0, 0.0)
        env += (t >= ms / 1000.0) * np.exp(-shifted / decay) * np.minimum(1.0, shifted / 0.0004)
    body = _filter(_noise(rng, n, 0.3), lambda f: _bp(f, lo, hi, 2) * (0.6 + _reso(f, 1.4 * lo, 1.5)))
    return _finish(_reverb(body * env[:, None], rng, rt60, mix), 0.85)


def _snare(name: str, tone: float, tone_decay: float, noise_decay: float, bright: float, verb: float) -> Array:
    """Two detuned drum-head modes with a pitch drop, plus band-passed wire noise."""
    rng = _rng(name)
    n = _n(max(tone_decay, noise_decay) * 6.0 + 0.05)
    t = _t(n)
    drop = 1.0 + 0.25 * np.exp(-t / 0.012)
    head = sum(
        a * np.sin(TWO_PI * np.cumsum(tone * r * drop) / SR) * _env(n, tone_decay * d)
        for a, r, d in ((1.0, 1.0, 1.0), (0.5, 1.78, 0.7))
    )
    wires = _filter(_noise(rng, n, 0.2), lambda f: _bp(f, 1800.0, bright, 2)) * _env(n, noise_decay)[:, None]
    x = _sat(_stereo(head) * 0.8 + wires * 0.5 / np.std(wires[:2000]), 1.5)
    return _finish(_reverb(x, rng, 0.7, verb) if verb else x, 0.85, trim_db=-54.0)


_METAL_RATIOS = (1.0, 1.4826, 1.8003, 2.5462, 2.6303, 3.8967)
"""The six square-wave oscillator ratios of a classic analogue cymbal circuit (205.3 Hz base)."""


def _metal(rng: np.random.Generator, n: int, base: float) -> Array:
    """Six band-limited square waves at inharmonic ratios: the metallic core of hats and rides."""
    t = _t(n)
    x = np.zeros(n)
    for r in _METAL_RATIOS:
        f = base * r
        phase = rng.uniform(0.0, TWO_PI)
        for h in range(1, int(0.45 * SR / f) + 1, 2):
            x += np.sin(h * (TWO_PI * f * t + phase)) / h
    return x / len(_METAL_RATIOS)


def _hat(name: str, decay: float, tone: float, hp: float, base: float = 410.0, fm: bool = False) -> Array:
    """Metallic squares (or inharmonic FM) plus noise, high-passed, with an exponential decay."""
    rng = _rng(name)
    n = _n(decay * 7 + 0.02)
    t = _t(n)
    metal = np.sin(TWO_PI * 8300.0 * t + 2.8 * np.sin(TWO_PI * 8300.0 * 1.414 * t)) if fm else _metal(rng, n, base)
    noise = _noise(rng, n, 0.5)
    x = tone * _stereo(metal) / np.std(metal) + (1.0 - tone) * noise
    x = _filter(x, lambda f: _hp(f, hp, 4) * (0.7 + 0.6 * _reso(f, 1.6 * hp, 1.2)))
    return _finish(x * _env(n, decay, attack=0.0003)[:, None], 0.6, trim_db=-48.0)


def _ride(name: str, base: float, bell: float, wash_decay: float) -> Array:
    """Dense inharmonic partials (bell) over a long high-passed noise wash."""
    rng = _rng(name)
    n = _n(wash_decay * 3.5)
    t = _t(n)
    ratios = (1.0, 1.47, 2.09, 2.56, 3.12, 4.08, 5.21, 6.43, 7.9, 9.6)
    ping = sum(
        np.sin(TWO_PI * base * r * t + rng.uniform(0.0, TWO_PI)) * np.exp(-t / (0.5 / (1 + 0.15 * i)))
        for i, r in enumerate(ratios)
    )
    wash = _filter(_noise(rng, n, 0.6) + 0.5 * _stereo(_metal(rng, n, 620.0)), lambda f: _hp(f, 4500.0, 3))
    x = bell * _stereo(ping) / len(ratios) + wash * _env(n, wash_decay, attack=0.001)[:, None] * 0.5
    x = _filter(x * _env(n, wash_decay * 1.5, attack=0.0005)[:, None], lambda f: _hp(f, 300.0, 2))
    return _finish(x, 0.5, trim_db=-42.0)


def _tom(name: str, f0: float, f1: float, decay: float) -> Array:
    rng = _rng(name)
    n = _n(decay * 5)
    t = _t(n)
    freq = f1 + (f0 - f1) * np.exp(-t / 0.04)
    body = np.sin(TWO_PI * np.cumsum(freq) / SR) * _env(n, decay, attack=0.0008)
    skin = _filter(rng.standard_normal(n), lambda f: _bp(f, 800.0, 5000.0, 1)) * _env(n, 0.008) * 0.15
    return _finish(_sat(body + skin, 1.3), 0.8)


def _rim(name: str) -> Array:
    rng = _rng(name)
    n = _n(0.12)
    t = _t(n)
    click = _filter(rng.standard_normal(n), lambda f: _reso(f, 1750.0, 6.0) + 0.5 * _reso(f, 4200.0, 4.0))
    x = click / np.max(np.abs(click)) * _env(n, 0.012) + 0.4 * np.sin(TWO_PI * 480.0 * t) * _env(n, 0.02)
    return _finish(_sat(x, 2.0), 0.75)


def _shaker(name: str) -> Array:
    rng = _rng(name)
    n = _n(0.16)
    t = _t(n)
    env = (t / 0.018) ** 2 * np.exp(2.0 * (1.0 - t / 0.018))
    env = np.where(t < 0.018, env, np.exp(-(t - 0.018) / 0.035))
    x = _filter(_noise(rng, n, 0.6), lambda f: _bp(f, 5000.0, 13000.0, 3)) * env[:, None]
    return _finish(x, 0.55)


def _cowbell(name: str) -> Array:
    rng = _rng(name)
    n = _n(0.4)
    x = np.zeros(n)
    t = _t(n)
    for f in (540.0, 800.0):
        phase = rng.uniform(0.0, TWO_PI)
        for h in range(1, int(0.45 * SR / f) + 1, 2):
            x += np.sin(h * (TWO_PI * f * t + phase)) / h
    x = _filter(x, lambda f: _bp(f, 700.0, 4000.0, 2)) * (0.6 * _env(n, 0.012) + 0.4 * _env(n, 0.08))
    return _finish(x, 0.6)


def _conga(name: str) -> Array:
    rng = _rng(name)
    n = _n(0.35)
    t = _t(n)
    freq = 320.0 * (1.0 + 0.12 * np.exp(-t / 0.01))
    body = np.sin(TWO_PI * np.cumsum(freq) / SR) * _env(n, 0.07) + 0.25 * np.sin(TWO_PI * 495.0 * t) * _env(n, 0.03)
    slap = _filter(rng.standard_normal(n), lambda f: _bp(f, 1500.0, 6000.0, 1)) * _env(n, 0.004) * 0.3
    return _finish(body + slap, 0.75)


def _metal_ping(name: str) -> Array:
    """A short FM bell: the tuned metallic tick of minimal techno."""
    n = _n(0.5)
    t = _t(n)
    index = 3.0 * np.exp(-t / 0.03)
    x = np.sin(TWO_PI * 1320.0 * t + index * np.sin(TWO_PI * 1320.0 * 3.53 * t)) * _env(n, 0.09, attack=0.0003)
    rng = _rng(name)
    return _finish(_reverb(x, rng, 0.6, 0.2), 0.6)


# ---------------------------------------------------------------- bass and synths


def _bass_note(
    rng: np.random.Generator,
    freq: float,
    length: float,
    peak_cut: float,
    base_cut: float,
    cut_decay: float,
    q: float,
    amp_decay: float,
    detune: tuple[float, ...] = (-8.0, 8.0),
    sub: float = 0.5,
    release: float = 0.008,
) -> Array:
    """One bass note: detuned saws through a resonant low-pass with an envelope, plus a sine sub, mono.

    Saturating the asymmetric saw-plus-sub wave leaves a DC offset, which `_dc_block` removes afterwards.
    """
    n = _n(length)
    t = _t(n)
    cutoff = base_cut + peak_cut * np.exp(-t / cut_decay)
    saw = _saws([freq], n, cutoff, q, rng, detune)[:, 0] * np.sqrt(2.0)
    body = saw + sub * np.sin(TWO_PI * freq * t)
    gate = np.sin(0.5 * np.pi * np.clip((length - t) / release, 0.0, 1.0))
    return _sat(body * _env(n, amp_decay, attack=0.002, hold=0.01) * gate, 1.6)


def _dc_block(x: Array, circular: bool = False) -> Array:
    """Remove DC and subsonic rumble (zero-phase 20 Hz high-pass); one-shots are padded so nothing wraps."""
    if circular:
        return _filter(x, lambda f: _hp(f, 20.0, 2))
    pad = np.zeros((_n(0.25), *x.shape[1:]))
    return _filter(np.concatenate([x, pad]), lambda f: _hp(f, 20.0, 2))[: x.shape[0]]


def _bassline(
    name: str,
    bars: int,
    notes: list[tuple[float, float, str, float]],
    peak_cut: float,
    base_cut: float,
    cut_decay: float,
    q: float,
    amp_decay: float,
    detune: tuple[float, ...] = (-8.0, 8.0),
    sub: float = 0.5,
) -> Array:
    """A circular mono bass loop from (beat, length in beats, note, accent) tuples; accents open the filter."""
    rng = _rng(name)
    track = np.zeros(loop_frames(bars))
    for beat, length, pitch, accent in notes:
        tone = _bass_note(
            rng, note(pitch), length * BEAT, peak_cut * accent, base_cut, cut_decay, q, amp_decay, detune, sub
        )
        _place(track, tone, _beat_frame(beat))
    return _normalize(_dc_block(track, circular=True), 0.85)


def _chord_stab(
    name: str,
    chord: list[str],
    cut_peak: float,
    cut_decay: float,
    amp_decay: float,
    length: float,
    q: float = 1.6,
    odd: bool = False,
) -> Array:
    """A detuned, stereo-spread chord hit with a fast filter envelope."""
    rng = _rng(name)
    n = _n(length)
    t = _t(n)
    cutoff = 350.0 + cut_peak * np.exp(-t / cut_decay)
    x = _saws([note(p) for p in chord], n, cutoff, q, rng, (-7.0, 0.0, 7.0), odd_only=odd, spread=0.6)
    env = _env(n, amp_decay, attack=0.002, hold=0.02) * np.minimum(1.0, (length - t) / 0.01)
    return _sat(x / np.max(np.abs(x)) * env[:, None], 1.2)


def _dub_stab(name: str) -> Array:
    """Am9 stab into a dotted-eighth ping-pong echo and a small room: the dub-techno chord."""
    stab = _chord_stab(name, ["A3", "C4", "E4", "G4", "B4"], 3200.0, 0.05, 0.16, 0.35)
    echoed = _echo(stab, 0.75 * BEAT, 0.5, 3)
    return _finish(_reverb(echoed, _rng(name + "/verb"), 1.2, 0.25), 0.7, trim_db=-50.0)


# ---------------------------------------------------------------- loops and fx


def _crossfade_bars(n: int, bars: int, overlap: float) -> list[Array]:
    """Circular raised-cosine windows, one per bar, summing to one: smooth chord changes in a loop."""
    t = np.arange(n) / n * bars
    windows = []
    for b in range(bars):
        d = (t - b + bars / 2) % bars - bars / 2
        rise = np.clip((d + overlap / 2) / overlap, 0.0, 1.0)
        fall = np.clip((1 + overlap / 2 - d) / overlap, 0.0, 1.0)
        windows.append(np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2)
    total = sum(windows)
    return [w / total for w in windows]


def _pad_loop(name: str) -> Array:
    """Four bars of slow chords (Am9, Fmaj7, Am9, Em7) breathing between dark and bright, in a circular hall."""
    rng = _rng(name)
    n = loop_frames(4)
    chords = [
        ["A2", "E3", "G3", "B3", "C4"],
        ["F2", "C3", "E3", "A3"],
        ["A2", "E3", "G3", "B3", "C4"],
        ["E2", "B2", "D3", "G3"],
    ]
    lfo = 0.5 - 0.5 * np.cos(TWO_PI * np.arange(n) / n * 2)
    x = np.zeros((n, 2))
    for chord, window in zip(chords, _crossfade_bars(n, 4, 0.35), strict=True):
        freqs = [note(p) for p in chord]
        dark = _periodic_saws(freqs, n, 700.0, 1.2, rng, 9.0, 0.8)
        bright = _periodic_saws(freqs, n, 2400.0, 1.6, rng, 9.0, 0.8)
        x += (dark * (1.0 - lfo)[:, None] + bright * lfo[:, None]) * window[:, None]
    wet = _convolve(x, _ir(rng, 3.5, damp_hz=3000.0), circular=True)
    return _normalize(x + 0.12 * wet, 0.6)


def _atmos(name: str) -> Array:
    """Two bars of dark air: a drifting band of noise over a beating low drone, in a circular hall."""
    rng = _rng(name)
    n = loop_frames(2)
    phase = TWO_PI * np.arange(n) / n
    centers = 2.0 ** (np.log2(900.0) + 1.6 * np.sin(phase) + 0.5 * np.sin(3 * phase + 1.0))
    air = _swept_noise(rng, centers, 0.5, 0.8)
    drone = _periodic_saws([note("A1"), note("E2"), note("A2")], n, 380.0, 2.5, rng, 6.0, 0.5)
    x = air / np.std(air) * 0.08 + drone / np.std(drone) * 0.2 * (0.8 + 0.2 * np.sin(2 * phase))[:, None]
    wet = _convolve(x, _ir(rng, 4.0, damp_hz=2000.0), circular=True)
    return _normalize(0.6 * x + 0.5 * wet, 0.55)


def _riser(name: str) -> Array:
    """Two bars of noise and a gliding saw sweeping up, ending hard on the next downbeat."""
    rng = _rng(name)
    n = loop_frames(2)
    ramp = np.arange(n) / n
    air = _swept_noise(rng, 200.0 * 45.0**ramp, 0.7, 0.3 + 0.7 * 1.0)
    glide = 110.0 * 4.0**ramp
    tone = _saws([glide], n, 300.0 + 5000.0 * ramp**2, 3.0, rng, (-12.0, 12.0), spread=0.8)
    x = (air / np.std(air) * 0.5 + tone / np.std(tone) * 0.25) * (ramp**2)[:, None]
    x[-_n(0.004) :] *= np.linspace(1.0, 0.0, _n(0.004))[:, None]
    return _normalize(x, 0.8)


def _downlifter(name: str) -> Array:
    rng = _rng(name)
    n = loop_frames(1)
    ramp = np.arange(n) / n
    air = _swept_noise(rng, 9000.0 * (150.0 / 9000.0) ** ramp, 0.6, 0.8)
    x = air * ((1.0 - ramp) ** 1.5 * np.minimum(1.0, ramp / 0.01))[:, None]
    return _finish(_reverb(x, rng, 0.8, 0.3), 0.7, trim_db=-54.0)


def _impact(name: str) -> Array:
    """A sub boom with a falling pitch, a noise crack and a long dark hall."""
    rng = _rng(name)
    n = _n(1.4)
    t = _t(n)
    freq = 34.0 + 60.0 * np.exp(-t / 0.08)
    boom = np.sin(TWO_PI * np.cumsum(freq) / SR) * _env(n, 0.45, attack=0.001)
    crack = _filter(_noise(rng, n, 0.7), lambda f: _lp(f, 3500.0, 2)) * _env(n, 0.09)[:, None]
    x = _sat(_stereo(boom) + 0.5 * crack / np.max(np.abs(crack)), 2.0)
    return _finish(_reverb(x, rng, 1.7, 0.5, damp_hz=1800.0), 0.85, trim_db=-54.0)


def _drum_loop(bars: int, events: list[tuple[Array, float, float]]) -> Array:
    """Place (sound, beat, gain) hits into a circular stereo loop."""
    track = np.zeros((loop_frames(bars), 2))
    for sound, beat, gain in events:
        _place(track, sound, _beat_frame(beat), gain)
    return _normalize(track, 0.9)


def _grooves(kit: dict[str, Array]) -> dict[str, Array]:
    swing = 0.035  # of a beat, on the off-16ths
    groove: list[tuple[Array, float, float]] = []
    tops: list[tuple[Array, float, float]] = []
    for bar in range(2):
        for beat in range(4):
            b = bar * 4 + beat
            groove.append((kit["kick"], b, 1.0))
            groove.append((kit["open"], b + 0.5, 0.45))
            for s, accent in ((0.0, 0.35), (0.25, 0.22), (0.5, 0.3), (0.75, 0.25)):
                groove.append((kit["closed"], b + s + (swing if s in (0.25, 0.75) else 0.0), accent))
            if beat % 2:
                groove.append((kit["clap"], b, 0.6))
        groove.append((kit["shaker"], bar * 4 + 3.75, 0.3))
    groove.append((kit["clap"], 7.75, 0.35))
    for beat in range(4):
        tops.append((kit["closed"], beat + 0.25 + swing, 0.3))
        tops.append((kit["open"], beat + 0.5, 0.5))
        tops.append((kit["shaker"], beat + 0.75 + swing, 0.35))
    tops += [(kit["rim"], 0.75, 0.5), (kit["rim"], 2.25, 0.45), (kit["conga"], 1.5, 0.5), (kit["conga"], 3.25, 0.4)]
    return {
        "drum_loop/drum_loop_groove_128bpm_2bar_loop.wav": _drum_loop(2, groove),
        "drum_loop/drum_loop_tops_128bpm_1bar_loop.wav": _drum_loop(1, tops),
    }


# ---------------------------------------------------------------- the pack


def build_pack() -> dict[str, Array]:
    """Every sound of the pack, keyed by its path relative to the pack root (float64, mono or stereo)."""
    s: dict[str, Array] = {
        "kick/kick_punch_A.wav": _kick("kick_punch", 190.0, 55.0, 0.03, 0.13, 2.0, 0.5),
        "kick/kick_deep_F.wav": _kick("kick_deep", 150.0, 43.7, 0.045, 0.17, 1.5, 0.3),
        "kick/kick_hard_G.wav": _kick("kick_hard", 260.0, 49.0, 0.02, 0.11, 4.0, 0.8),
        "kick/kick_short_A.wav": _kick("kick_short", 210.0, 57.0, 0.022, 0.06, 2.5, 0.6),
        "kick/kick_rumble_A.wav": _rumble_kick("kick_rumble"),
        "clap/clap_909.wav": _clap("clap_909", (0, 9, 19, 30), 900.0, 2600.0, 0.07, 0.5, 0.2),
        "clap/clap_tight.wav": _clap("clap_tight", (0, 7, 14), 1400.0, 4200.0, 0.04, 0.3, 0.1),
        "clap/clap_hall.wav": _clap("clap_hall", (0, 11, 23, 33), 800.0, 2400.0, 0.08, 1.0, 0.45),
        "snare/snare_909.wav": _snare("snare_909", 185.0, 0.09, 0.12, 9000.0, 0.0),
        "snare/snare_tight.wav": _snare("snare_tight", 240.0, 0.05, 0.07, 12000.0, 0.0),
        "snare/snare_verb.wav": _snare("snare_verb", 200.0, 0.08, 0.12, 8000.0, 0.35),
        "hihat/hat_closed_tight.wav": _hat("hat_closed_tight", 0.022, 0.5, 7000.0),
        "hihat/hat_closed_metal.wav": _hat("hat_closed_metal", 0.035, 0.7, 6500.0, fm=True),
        "hihat/hat_closed_soft.wav": _hat("hat_closed_soft", 0.05, 0.25, 7500.0, base=380.0),
        "hihat/hat_open_808.wav": _hat("hat_open_808", 0.16, 0.5, 6500.0),
        "hihat/hat_open_fm.wav": _hat("hat_open_fm", 0.18, 0.6, 6000.0, fm=True),
        "ride/ride_bell.wav": _ride("ride_bell", 620.0, 1.0, 0.3),
        "ride/ride_wash.wav": _ride("ride_wash", 540.0, 0.35, 0.35),
        "perc/tom_low.wav": _tom("tom_low", 140.0, 95.0, 0.16),
        "perc/tom_high.wav": _tom("tom_high", 230.0, 175.0, 0.12),
        "perc/rim_shot.wav": _rim("rim_shot"),
        "perc/shaker.wav": _shaker("shaker"),
        "perc/cowbell.wav": _cowbell("cowbell"),
        "perc/conga_high.wav": _conga("conga_high"),
        "perc/metal_ping.wav": _metal_ping("metal_ping"),
    }
    for path, pitch, kind in (
        ("bass/bass_sub_A1.wav", "A1", "sub"),
        ("bass/bass_pluck_A1.wav", "A1", "pluck"),
        ("bass/bass_pluck_C2.wav", "C2", "pluck"),
        ("bass/bass_reese_E1.wav", "E1", "reese"),
    ):
        rng = _rng(path)
        if kind == "sub":
            x = _bass_note(rng, note(pitch), 0.7, 200.0, 90.0, 0.05, 0.8, 0.35, (0.0,), sub=2.5, release=0.12)
        elif kind == "pluck":
            x = _bass_note(rng, note(pitch), 0.45, 2200.0, 140.0, 0.07, 2.6, 0.18, release=0.06)
        else:
            x = _bass_note(rng, note(pitch), 0.9, 300.0, 420.0, 0.4, 1.3, 0.9, (-16.0, 16.0), sub=0.7, release=0.2)
        s[path] = _finish(_dc_block(x), 0.85)
    rolling = [
        (b + o, 0.2, "A2" if (b, o) == (3, 0.75) else "A1", 1.3 if o == 0.25 else 1.0)
        for b in range(4)
        for o in (0.25, 0.5, 0.75)
    ]
    s["bassline/bassline_rolling_A_128bpm_1bar_loop.wav"] = _bassline(
        "bassline_rolling", 1, rolling, peak_cut=1300.0, base_cut=120.0, cut_decay=0.05, q=2.2, amp_decay=0.09
    )
    offbeat = [(b + 0.5, 0.4, p, 1.0) for b, p in enumerate(["A1", "A1", "A1", "C2", "A1", "A1", "G1", "E1"])]
    s["bassline/bassline_offbeat_A_128bpm_2bar_loop.wav"] = _bassline(
        "bassline_offbeat", 2, offbeat, peak_cut=900.0, base_cut=150.0, cut_decay=0.08, q=1.5, amp_decay=0.2
    )
    acid_steps = "A2 . A1 A1 . C3 A1 . D2 . A1 E2 . A1 G2 . A2 A1 . A1 C2 . A2 . E2 A1 . D3 A1 . G1 A1"
    acid = [(i / 4, 0.22, p, 1.9 if i % 3 == 0 else 1.0) for i, p in enumerate(acid_steps.split()) if p != "."]
    s["bassline/bassline_acid_A_128bpm_2bar_loop.wav"] = _bassline(
        "bassline_acid",
        2,
        acid,
        peak_cut=2400.0,
        base_cut=260.0,
        cut_decay=0.09,
        q=6.0,
        amp_decay=0.15,
        detune=(0.0,),
        sub=0.2,
    )
    s["synth/stab_Am9_dub.wav"] = _dub_stab("stab_Am9_dub")
    s["synth/stab_Am7_short.wav"] = _finish(
        _chord_stab("stab_Am7_short", ["A3", "C4", "E4", "G4"], 4500.0, 0.03, 0.07, 0.3, q=2.5), 0.7
    )
    dm7 = _chord_stab("stab_Dm7_chord", ["D3", "F3", "A3", "C4"], 1800.0, 0.12, 0.25, 0.6)
    s["synth/stab_Dm7_chord.wav"] = _finish(_reverb(dm7, _rng("dm7"), 1.0, 0.3), 0.7, trim_db=-50.0)
    s["synth/stab_rave_fifths.wav"] = _finish(
        _chord_stab("stab_rave_fifths", ["A3", "E4", "A4"], 5000.0, 0.08, 0.12, 0.45, q=3.0, odd=True), 0.7
    )
    s["texture/pad_Am9_128bpm_4bar_loop.wav"] = _pad_loop("pad_Am9")
    s["texture/atmos_dark_128bpm_2bar_loop.wav"] = _atmos("atmos_dark")
    s["fx/riser_noise.wav"] = _riser("riser_noise")
    s["fx/downlifter.wav"] = _downlifter("downlifter")
    s["fx/impact_boom.wav"] = _impact("impact_boom")
    kit = {
        "kick": s["kick/kick_punch_A.wav"],
        "closed": s["hihat/hat_closed_tight.wav"],
        "open": s["hihat/hat_open_808.wav"],
        "clap": s["clap/clap_909.wav"],
        "shaker": s["perc/shaker.wav"],
        "rim": s["perc/rim_shot.wav"],
        "conga": s["perc/conga_high.wav"],
    }
    s.update(_grooves(kit))
    return s


def _pcm16(x: Array) -> Array:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")


def write_pack(out_dir: Path) -> list[Path]:
    """Write the whole pack under out_dir as 16-bit 44.1 kHz WAVs; the same bytes on every run."""
    out_dir = Path(out_dir)
    written = []
    for rel, audio in sorted(build_pack().items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _pcm16(audio), SR, subtype="PCM_16", format="WAV")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bergain_actors.music.synth OUT_DIR", file=sys.stderr)
        return 2
    paths = write_pack(Path(args[0]))
    total = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} samples, {total / 1e6:.2f} MB, to {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
