"""Importing the package first gives numpy's OpenBLAS one thread (a bar-long dot product costs less than waking a
second thread for it) and leaves the environment as it was, so the processes a set starts keep their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, glob, json, os, sys
import bergain_actors
import numpy
libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "*openblas*"))
getter = getattr(ctypes.CDLL(libs[0]), "scipy_openblas_get_num_threads64_", None) if libs else None
print(json.dumps({"threads": getter() if getter else None, "env": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def test_one_blas_thread_and_the_environment_put_back():
    seen = _probe()
    if seen["threads"] is None:
        pytest.skip("this numpy has no bundled scipy-openblas to ask")
    assert seen == {"threads": 1, "env": None}


def test_a_thread_count_the_user_set_is_kept():
    seen = _probe(OPENBLAS_NUM_THREADS="2")
    if seen["threads"] is None:
        pytest.skip("this numpy has no bundled scipy-openblas to ask")
    assert seen == {"threads": 2, "env": "2"}
