"""Phrase decisions in time on the embedded LM: a live-paced set (the clock, not a sound card, paces it) on the
default scenario, as it is and beside two CPU hogs. Prints, per run: phrases asked, decided by the LM in time,
late or failed, the answer latency, and the same counted only from when the model was up (its child boots slowly
on a busy machine, and the phrases before that are the autopilot's by design).

    .venv/bin/python bench/bench_phrase_deadlines.py [--minutes 8] [--runs quiet,loaded] [--lead-bars N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import trio

from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from tests.brain_support import logged, of, play


@contextmanager
def hogs(count: int):
    """``count`` processes spinning on a core each (``yes``), for as long as the block runs: each in a session of
    its own, as a build in another terminal would be (Linux's autogroup shares the CPU between sessions first)."""
    spinning = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL, start_new_session=True) for _ in range(count)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def tally(events: list[ev.Event]) -> dict[str, object]:
    up = next((e.seq for e in of(events, ev.LocalServerChanged) if e.status == "started"), None)
    asked = {e.request_id: e for e in of(events, ev.LMRequest) if e.purpose == "phrase"}
    by_lm = ("scored", "constrained")
    decided = {f"phrase:{d.bar}" for d in of(events, ev.PhraseDecision) if d.decision.get("method") in by_lm}
    answers = {e.request_id: e for e in of(events, ev.LMResponse) if e.request_id in asked}
    failed = [e for e in of(events, ev.LMFailed) if e.request_id in asked]
    after_up = [r for r in asked.values() if up is not None and r.seq > up]
    return {
        "asked": len(asked),
        "in time": len(decided),
        "failed": len(failed),
        "late": len([b for b in of(events, ev.BrainChanged) if "late" in b.reason]),
        "asked after the model was up": len(after_up),
        "in time after": len([r for r in after_up if r.request_id in decided]),
        "latency p50 / p95 ms": f"{pct([a.latency_ms for a in answers.values()], 0.5):.0f} / "
        f"{pct([a.latency_ms for a in answers.values()], 0.95):.0f}",
        "prompts / tokens per request": f"{mean([1 + len(r.variants) for r in asked.values()]):.1f} / "
        f"{mean([a.prompt_tokens for a in answers.values()]):.0f}",
        "model up at bar": next((e.bar for e in of(events, ev.LocalServerChanged) if e.status == "started"), "never"),
        "holds": len(of(events, ev.BarHeld)),
        "why failed": "; ".join(sorted({f.reason.split(" (")[0] for f in failed}))[:60] or "-",
    }


async def live_set(out: Path, minutes: float, lead_bars: int | None) -> list[ev.Event]:
    scenario, text = scenarios.load(scenarios.DEFAULT_SCENARIO)
    scenario = scenarios.replace(scenario, minutes=minutes, bars=None)
    if lead_bars is not None:
        conductor = msgspec.structs.replace(scenario.conductor, lead_bars=lead_bars)
        scenario = scenarios.replace(scenario, conductor=conductor)
    result = await play(scenario, text, out, sink=ClockSink(scenario.sample_rate))
    return logged(result.log_path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--runs", default="quiet,loaded")
    parser.add_argument("--lead-bars", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep each run's log and WAV in DIR/RUN/")
    args = parser.parse_args()
    rows: dict[str, dict[str, object]] = {}
    for run in args.runs.split(","):
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp, hogs(2 if run == "loaded" else 0):
            out = Path(tmp) if args.keep is None else args.keep / run
            out.mkdir(parents=True, exist_ok=True)
            events = trio.run(live_set, out, args.minutes, args.lead_bars)
        rows[run] = {**tally(events), "load before": f"{load_before:.1f}", "load after": f"{os.getloadavg()[0]:.1f}"}
    keys = list(next(iter(rows.values())))
    print(f"{'':32}" + "".join(f"{run:>18}" for run in rows))
    for key in keys:
        print(f"{key:32}" + "".join(f"{rows[run][key]!s:>18}" for run in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
