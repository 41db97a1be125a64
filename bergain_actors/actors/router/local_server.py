"""The embedded LM's child process: llama.cpp's HTTP server (xllamacpp) on 127.0.0.1, port chosen by the OS.

It prints one JSON line on stdout — ``{"address": ..., "pid": ..., "load_s": ...}`` or ``{"error": ...}`` — and
serves until its stdin closes, so it never outlives the router, even one killed with SIGKILL. It runs in a process
of its own so that a crash of the model (a segfault in C++) can never take the performance down.

    python -m bergain_actors.actors.router.local_server --model FILE [--n-ctx 2048] [--threads 1]
        [--batch-threads 1] [--priority NICE] [--cache-ram-mib 64]

``--priority`` (a live set): the child takes a session of its own and the nice ``NICE`` where allowed, and says in
its JSON line what it got (``priority``). A session of its own because Linux's autogroup shares the CPU between
sessions before any nice counts: in the set's session the child's nice only ranked it against the set itself,
while a build in another terminal got as much CPU as the set and its model together.
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
    parser.add_argument("--batch-threads", type=int, default=1)
    parser.add_argument("--priority", type=int, default=None, help="live: this nice where allowed, own session")
    parser.add_argument("--cache-ram-mib", type=int, default=CACHE_RAM_MIB, help="RAM for past prompts' KV states")
    args = parser.parse_args(argv)
    priority = take_priority(args.priority) if args.priority is not None else ""
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
    load_s = time.perf_counter() - started
    _say({"address": server.listening_address, "pid": os.getpid(), "load_s": load_s, "priority": priority}, 0)
    sys.stdin.read()  # until the router closes the pipe or dies
    return 0


def take_priority(nice: int) -> str:
    """A session of its own, at ``nice`` (or the lowest value above it that is allowed) for its threads and its
    session's scheduling group (``/proc/self/autogroup``, where the kernel has one); says what it got."""
    try:
        os.setsid()
        own = "a session of its own"
    except OSError:  # already a process group's leader (started by hand from a shell)
        own = "the caller's session"
    current = os.getpriority(os.PRIO_PROCESS, 0)
    for value in range(nice, current) if nice < current else (nice,):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, value)
            break
        except OSError:
            continue
    got = os.getpriority(os.PRIO_PROCESS, 0)
    said = f"nice {got}" + (f" (not allowed {nice})" if got != nice else "")
    group = Path("/proc/self/autogroup")
    try:
        group.write_text(str(got))
        return f"{said}, {own} ({group.read_text().strip().lstrip('/')})"
    except OSError:
        return f"{said}, {own}"


def _say(message: dict[str, object], code: int) -> int:
    print(json.dumps(message), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
