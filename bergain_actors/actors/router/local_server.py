"""The embedded LM's child process: llama.cpp's HTTP server (xllamacpp) on 127.0.0.1, port chosen by the OS.

It prints one JSON line on stdout — ``{"address": ..., "pid": ..., "load_s": ...}`` or ``{"error": ...}`` — and
serves until its stdin closes, so it never outlives the router, even one killed with SIGKILL. It runs in a process
of its own so that a crash of the model (a segfault in C++) can never take the performance down.

    python -m bergain_actors.actors.router.local_server --model FILE [--n-ctx 2048] [--threads 1] [--nice 10]
        [--cache-ram-mib 64]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

CACHE_RAM_MIB = 64
"""llama.cpp's server keeps the KV state of past prompts in RAM for reuse, 8192 MiB by default: with SmolLM2 a
phrase prompt's state is about 6 MB, so the child grew by that much a request (250 MB at start, 931 MB after a
60-minute set). 64 MiB keeps the last ten or so; the slot's own cache still reuses the prompt shared with the
request before."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", default="smollm2")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-threads", type=int, default=2)
    parser.add_argument("--nice", type=int, default=10, help="how much to lower this process's priority")
    parser.add_argument("--cache-ram-mib", type=int, default=CACHE_RAM_MIB, help="RAM for past prompts' KV states")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    started = time.perf_counter()
    if not Path(args.model).is_file():
        return _say({"error": f"model file missing: {args.model}"}, 1)
    try:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = args.model
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.n_ctx = args.n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.batch_threads
        params.model_alias = {args.alias}
        params.warmup = True
        params.cache_ram_mib = args.cache_ram_mib
        server = xlc.Server(params)
    except Exception as exc:  # report why instead of a traceback nobody reads
        return _say({"error": f"{type(exc).__name__}: {exc}"}, 1)
    _say({"address": server.listening_address, "pid": os.getpid(), "load_s": time.perf_counter() - started}, 0)
    sys.stdin.read()  # until the router closes the pipe or dies
    return 0


def _say(message: dict[str, object], code: int) -> int:
    print(json.dumps(message), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
