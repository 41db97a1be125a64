"""Brain overheads: rlm per-step cost without LM time, the tool round trip sandbox → actor → sandbox, the phrase
decision latency on the embedded local LM, and ``replay --verify`` time for a 30-minute LM-driven phrase set.

    .venv/bin/python bench/bench_brains.py [--local]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bergain_actors import replay
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from tests.brain_support import load, logged, of, play


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def rlm_set(tmp: Path) -> list[ev.Event]:
    scenario, text = load("rlm_scripted.toml", sandbox_timeout_s=0.5)
    result = await play(scenario, text, tmp)
    return logged(result.log_path)


def rlm_numbers(events: list[ev.Event]) -> tuple[float, float, float]:
    """Per step: wall time from an LM answer to the next LM request or end of run, minus tool waits for bars
    (play) and the deliberate endless-loop step; tool round trip: ToolCall → ToolResult wall, non-play tools."""
    results = {e.call_id: e for e in of(events, ev.ToolResult)}
    trips = [
        (results[c.call_id].wall - c.wall) * 1000
        for c in of(events, ev.ToolCall)
        if c.tool not in ("play",) and c.call_id in results
    ]
    steps = of(events, ev.RLMStep)
    answers = {e.request_id: e for e in of(events, ev.LMResponse)}
    per_step = []
    for request in of(events, ev.LMRequest):
        answer = answers.get(request.request_id)
        step = next((s for s in steps if answer is not None and s.seq > answer.seq), None)
        if answer is None or step is None or request.purpose != "rlm" or "while True" in step.code:
            continue
        waits = sum(
            results[c.call_id].wall - c.wall
            for c in of(events, ev.ToolCall)
            if c.tool == "play" and answer.seq < c.seq < step.seq and c.call_id in results
        )
        per_step.append((step.wall - answer.wall - waits) * 1000)
    return statistics.median(per_step), pct(trips, 0.5), pct(trips, 0.99)


async def local_set(tmp: Path) -> tuple[list[float], Path]:
    """A 30-minute set decided by the embedded SmolLM2: its decision latencies, and its log."""
    scenario, text = load("local_phrase.toml")
    scenario = scenarios.replace(scenario, minutes=30.0, bars=None)
    result = await play(scenario, text, tmp)
    events = logged(result.log_path)
    return [e.latency_ms for e in of(events, ev.LMResponse)], result.log_path


async def long_phrase_set(tmp: Path) -> Path:
    scenario, text = load("phrase_scripted.toml")
    scenario = scenarios.replace(scenario, minutes=30.0)
    result = await play(scenario, text, tmp)
    return result.log_path


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "rlm").mkdir()
        step, p50, p99 = rlm_numbers(trio.run(rlm_set, tmp / "rlm"))
        rows.append(("rlm step overhead, no LM time (median)", f"{step:.1f} ms"))
        rows.append(("tool round trip sandbox→actor→sandbox p50 / p99", f"{p50:.2f} / {p99:.2f} ms"))
        if "--local" in sys.argv:
            (tmp / "local").mkdir()
            latencies, local_log = trio.run(local_set, tmp / "local")
            rows.append(
                (
                    "phrase decision on local SmolLM2 p50 / p95",
                    f"{pct(latencies, 0.5):.0f} / {pct(latencies, 0.95):.0f} ms (n={len(latencies)})",
                )
            )
            started = time.perf_counter()
            checked = replay.verify(local_log, warn=lambda m: None).done
            elapsed = time.perf_counter() - started
            rows.append(("replay --verify, 30-min set on local SmolLM2", f"{elapsed:.2f} s ({checked} events)"))
        (tmp / "long").mkdir()
        log = trio.run(long_phrase_set, tmp / "long")
        started = time.perf_counter()
        checked = replay.verify(log, warn=lambda m: None).done
        rows.append(
            (
                "replay --verify, 30-min phrase set (scripted)",
                f"{time.perf_counter() - started:.2f} s ({checked} events)",
            )
        )
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
