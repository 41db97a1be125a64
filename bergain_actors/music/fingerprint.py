"""A bar's audio fingerprint: logged with each bar played, so a replay proves it rendered the very same samples."""

from __future__ import annotations

import zlib

import numpy as np


def bar_checksum(audio: np.ndarray) -> int:
    """CRC-32 of the bar's float32 samples, exactly as the streamer handed them to the WAV and the device."""
    return zlib.crc32(np.ascontiguousarray(audio, dtype=np.float32).data)
