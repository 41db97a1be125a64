"""Importing the package gives the process one malloc arena (glibc): the threads an offline set starts (its next
bar's render, its WAV writer) would otherwise each keep an arena of freed bar-sized buffers, and the peak RSS grows."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, threading
import bergain_actors
import numpy as np

def churn():
    for _ in range(200):
        np.ones(50_000).sum()  # 400 kB: under glibc's mmap threshold once it has grown, so from an arena

threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads:
    t.start()
churn()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()  # one 'Arena N:' block per arena, on stderr
"""


def _arenas(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, timeout=120, check=True
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc arenas")
def test_threads_share_one_arena():
    assert _arenas() == 1


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc arenas")
def test_an_arena_count_the_user_set_is_kept():
    assert _arenas(MALLOC_ARENA_MAX="4") > 1
