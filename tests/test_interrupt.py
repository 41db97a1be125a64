"""Ctrl-C in the middle of an RLM-driven set: the program stops cleanly and the log is closed properly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.core.scenario import PACKAGE_ROOT


def test_ctrl_c_while_the_rlm_plays_closes_the_log(tmp_path):
    scenario = PACKAGE_ROOT / "scenarios" / "rlm_scripted.toml"
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(scenario), "--no-audio", "--out", str(tmp_path)]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = []
    for line in process.stderr:  # console output is JSON lines when not a terminal
        seen.append(line)
        if json.loads(line).get("event") == "rlm":  # the program is running its REPL steps
            process.send_signal(signal.SIGINT)
            break
    else:
        raise AssertionError(f"the set ended before the RLM showed a step: {seen[-5:]}")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "interrupted" in err
    (log,) = tmp_path.glob("*.bgnlog")
    _, events, problem = read_all(log)
    assert problem is None
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "interrupted"
    assert any(isinstance(e, ev.ToolCall) for e in events)
