"""bergain-actors: an AI DJ built as an event-sourced actor system on trio."""

import os
import sys

__version__ = "0.1.0"

if "numpy" not in sys.modules and "OPENBLAS_NUM_THREADS" not in os.environ:
    # numpy's OpenBLAS, one thread: the renderer's and the hearing's dot products are a bar long, and waking a
    # second BLAS thread for each (three a bar) cost more than the product on a busy machine (a 60-minute offline
    # set: 0.7 s of CPU and 1.2 s of wall time, same results). OpenBLAS reads the variable as numpy loads it; the
    # environment is put back at once, so the processes a set starts (the embedded LM) keep their own threads.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]
