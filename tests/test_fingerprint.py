"""A bar's checksum is zlib's CRC-32 of its float32 samples, whoever computes it: every log written so far (the
corpus included) holds those values, and replay compares against them."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from bergain_actors.music.fingerprint import bar_checksum


@pytest.mark.parametrize("frames", [0, 1, 7, 1000, 82687, 82688])
def test_the_checksum_is_zlibs_crc32_of_the_float32_samples(frames):
    audio = np.random.default_rng(frames).uniform(-1.0, 1.0, (frames, 2)).astype(np.float32)
    assert bar_checksum(audio) == zlib.crc32(audio.tobytes())


def test_a_strided_or_float64_bar_is_checksummed_as_its_float32_samples():
    wide = np.random.default_rng(5).uniform(-1.0, 1.0, (2000, 4))
    audio = wide[:, ::2]  # every other column: not contiguous, float64
    assert bar_checksum(audio) == zlib.crc32(audio.astype(np.float32).tobytes())
