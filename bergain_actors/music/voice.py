"""A simple synth voice for note layers (clips made from a prompt): an additive, band-limited saw whose
harmonics fall under a decaying low-pass (the plucked "acid" shape), with a short attack and release so notes
never click. Pure numpy, deterministic: the same note at the same rate gives the same samples, so sets with
clips replay bit for bit."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

ATTACK_S = 0.004
RELEASE_S = 0.03
HARMONICS = 32


def note_hz(pitch: int) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


@lru_cache(maxsize=512)
def tone(pitch: int, frames: int, velocity: int, sample_rate: int) -> np.ndarray:
    """One note, mono float32: ``frames`` of sound plus a release tail. Read-only (it is shared)."""
    n = frames + int(RELEASE_S * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    hz = note_hz(pitch)
    level = velocity / 127.0
    cutoff = 250.0 + 3000.0 * level * np.exp(-t * 8.0)
    w = 2.0 * np.pi * hz * t
    out = np.zeros(n)
    for k in range(1, HARMONICS + 1):
        if k * hz > 0.45 * sample_rate:
            break
        out += np.sin(k * w) / (k * np.sqrt(1.0 + (k * hz / cutoff) ** 2))
    env = np.ones(n)
    attack = min(n, max(1, int(ATTACK_S * sample_rate)))
    env[:attack] = np.linspace(0.0, 1.0, attack, endpoint=False)
    if n > frames:
        env[frames:] = np.linspace(1.0, 0.0, n - frames)
    voice = (out * env * level * 0.5).astype(np.float32)
    voice.flags.writeable = False
    return voice
