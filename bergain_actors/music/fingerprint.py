"""A bar's audio fingerprint: logged with each bar played, so a replay proves it rendered the very same samples."""

from __future__ import annotations

import numpy as np
from zlib_ng import zlib_ng


def bar_checksum(audio: np.ndarray) -> int:
    """CRC-32 of the bar's float32 samples, exactly as the streamer handed them to the WAV and the device: zlib's
    CRC-32, computed by zlib-ng (vectorized: 15 µs a bar at 44.1 kHz where the system's zlib took 200-370 µs, a
    tenth of what an offline set spends on a bar)."""
    return zlib_ng.crc32(np.ascontiguousarray(audio, dtype=np.float32).data)
