"""The WAV's 16-bit samples, apart from the sinks: the render worker makes them without importing trio."""

from __future__ import annotations

import numpy as np


def pcm16(audio: np.ndarray) -> np.ndarray:
    """``audio`` (float, full scale 1.0) as the little-endian 16-bit samples libsndfile writes for it (its clipping
    conversion: scaled to 32 bits, rounded to the nearest, half to even, then the top 16 bits kept, which rounds
    down; tests/test_wav_writer.py holds the two to the same bytes). Every step is exact in float32."""
    scaled = np.multiply(audio, np.float32(2.0**31), dtype=np.float32)
    np.rint(scaled, out=scaled)
    scaled *= np.float32(2.0**-16)
    np.floor(scaled, out=scaled)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    return scaled.astype("<i2")
