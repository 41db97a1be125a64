"""Ctrl-C in the middle of an RLM-driven set: the program stops cleanly and the log is closed properly."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.core.scenario import PACKAGE_ROOT


def lines_until(process: subprocess.Popen, deadline_s: float) -> Iterator[str]:
    """The child's stderr line by line, read in a thread so that a silent child cannot hang the test: past the
    deadline the child is killed and the test fails saying so."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: [*map(lines.put, process.stderr), lines.put(None)], daemon=True).start()
    end = time.monotonic() + deadline_s
    while True:
        try:
            line = lines.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            process.kill()
            pytest.fail(f"no expected output from the set within {deadline_s:g} s")
        if line is None:
            return
        yield line


def signal_when(process: subprocess.Popen, said: Callable[[str], bool], sig: int = signal.SIGINT) -> str:
    """Send ``sig`` once the child's stderr has a line ``said`` accepts; the child's whole stderr until it exits."""
    seen: list[str] = []
    try:
        lines = lines_until(process, 120)
        for line in lines:
            seen.append(line)
            if said(line):
                process.send_signal(sig)
                break
        else:
            raise AssertionError(f"the child never said what the test waits for: {seen[-5:]}")
        seen.extend(lines)  # what it says while stopping, until it closes stderr (within the same deadline)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return "".join(seen)


def test_ctrl_c_while_the_rlm_plays_closes_the_log(tmp_path):
    scenario = PACKAGE_ROOT / "scenarios" / "rlm_scripted.toml"
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(scenario), "--no-audio", "--out", str(tmp_path)]
    argv += ["--log-format", "json"]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    err = signal_when(process, lambda line: line.startswith("{") and json.loads(line).get("type") == "RLMStep")
    assert process.returncode == 130, err[-2000:]
    assert "interrupted" in err
    (log,) = tmp_path.glob("*.bgnlog")
    _, events, problem = read_all(log)
    assert problem is None
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "interrupted"
    assert any(isinstance(e, ev.ToolCall) for e in events)


def test_ctrl_c_while_the_pack_is_read_leaves_nothing_and_says_nothing_was_played(tmp_path):
    import numpy as np
    import soundfile as sf

    (tmp_path / "pack" / "kick").mkdir(parents=True)
    (tmp_path / "pack" / "kick" / "a_broken.wav").write_bytes(b"")  # read first, and said: the pack is being read
    for index in range(3000):  # seconds of reading after it, for the signal to arrive in
        sf.write(tmp_path / "pack" / "kick" / f"k{index:04}.wav", np.full((64, 1), 0.1, np.float32), 44100)
    text = (PACKAGE_ROOT / "scenarios" / "autopilot.toml").read_text()
    (tmp_path / "set.toml").write_text(text.replace("../sample_pack", str(tmp_path / "pack")))
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(tmp_path / "set.toml"), "--no-audio", "--bars", "4"]
    argv += ["--out", str(tmp_path / "sets" / "tonight")]
    process = subprocess.Popen(  # Ctrl-C as a terminal delivers it (a runner may have left SIGINT ignored)
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    err = signal_when(process, lambda line: "a_broken.wav" in line)
    assert process.returncode == 130, err
    assert "interrupted before the set began: nothing was played or written" in err  # before: a log that never was
    assert not (tmp_path / "sets").exists()
