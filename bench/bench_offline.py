"""How fast does a set render offline, and what does a bar cost? The 60-minute autopilot set (``run --fast
--no-audio --no-report``, seed 1) by this code and by the code of 5d6d18b (a ``git worktree`` of that commit,
with this checkout's Python), runs interleaved so both see the same load: wall time, times real time, CPU time (the
set's process and its render worker) and the peak RSS of each process and their sum (each process's own peak, as
``run`` prints it: ``wait4`` of the set only gives the largest in its tree; the pack's audio, in memory the two
share, counts in the process that reads it, the worker). Then the 8-minute default set's cost
per bar as its streamer pays it (render, hearing, the bar's checksum, its 16-bit samples): median, mean, p99 and
the cold first bar, timed over the set's logged plans (``--no-per-bar`` skips it).

The renderer keeps its cold copies on disk across sets (``music/copy_cache.py``): this code's first round starts
from an empty cache folder the bench makes (cold: it makes every copy and writes it), its later rounds find them
there (warm: a set played again, a replay, an evaluation's next set); ``--cold`` empties the folder before every
round. The table's "cache" column says which. The per-bar figures start cold.

    .venv/bin/python bench/bench_offline.py [--rounds 3] [--minutes 60] [--before 5d6d18b] [--default-log LOG]
        [--no-per-bar] [--cold]

Both trees are byte-compiled first (as an installed package is). The machine is shared: the load average is printed
beside the figures, and the ratio of each interleaved pair is the figure to compare. Without ``--default-log`` the
default set is played first (the embedded LM decides it: about a minute).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bergain_actors.music import copy_cache  # noqa: E402


class Run(NamedTuple):
    code: str
    wall: float
    cpu: float
    """Seconds, the set's process and the processes it waited for (its render worker)."""
    rss: float
    """MB: the set's process's own peak."""
    worker_cpu: float = 0.0
    worker_rss: float = 0.0
    """MB; 0 when the set rendered in its own process."""
    set_cpu: float = 0.0
    """Seconds, the set's process alone (as it prints it; 0 for code that does not)."""
    cache: str = "-"
    """This code's copies on disk: cold (none there) or warm."""


PROCESSES = re.compile(r"^processes +this one ([\d.]+) s CPU, peak RSS (\d+) MB(?:; render worker ([\d.]+) s CPU, "
                       r"peak RSS (\d+) MB)?", re.M)  # fmt: skip


def run_set(tree: Path, minutes: float, out: Path, name: str, cache: Path) -> Run:
    """One set played by the code in ``tree``: wall and CPU seconds, each process's peak RSS. On a shared machine
    the CPU time (user + system) moves less with the load than the wall time does."""
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(tree / "scenarios" / "autopilot.toml")]
    argv += ["--minutes", f"{minutes:g}", "--fast", "--no-audio", "--quiet", "--seed", "1", "--out", str(out)]
    if "--no-report" in (tree / "bergain_actors" / "cli.py").read_text():
        argv.append("--no-report")  # 5d6d18b had no report to skip
    env = {**os.environ, "PYTHONPATH": str(tree), copy_cache.ENV: str(cache)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as said, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, cwd=tree, env=env, stdout=said, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        said.seek(0)
        err.seek(0)
        printed, errors = said.read().decode(errors="replace"), err.read().decode(errors="replace")
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the set by {tree} failed ({child.returncode}): {errors[-1500:]}")
    for path in out.iterdir():  # a 60-minute WAV is 635 MB: keep the disk free between runs
        path.unlink()
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    own = PROCESSES.search(printed)
    if own is None:  # code from before the line (one process: wait4 measured it)
        return Run(name, wall, cpu, rss)
    return Run(name, wall, cpu, float(own[2]), float(own[3] or 0.0), float(own[4] or 0.0), float(own[1]))


def compiled(tree: Path) -> None:
    """Byte-compile the tree's package, as an installed one is: where ``PYTHONDONTWRITEBYTECODE`` is set (this
    machine's sessions), every run would otherwise compile its modules from source (0.25 s of this code's start)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "bergain_actors")], check=True)


def worktree(commit: str, where: Path) -> Path:
    tree = where / f"bergain-{commit}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                   capture_output=True)  # fmt: skip
    return tree


def per_bar(log: Path) -> dict[str, float]:
    """Every bar of a logged set rendered, heard, checksummed and made 16-bit for the WAV as the streamer does, in
    a renderer of its own (no copies made by an earlier one): ms per bar."""
    from bergain_actors import replay
    from bergain_actors.core.log import LogReader
    from bergain_actors.music.fingerprint import bar_checksum
    from bergain_actors.music.hearing import hear
    from bergain_actors.music.pack import index_pack
    from bergain_actors.music.pcm import pcm16
    from bergain_actors.music.render import Renderer, forget_copies

    scenario = replay.scenario_of(LogReader(log))
    pack = index_pack(scenario.path(scenario.sample_pack), scenario.sample_rate)
    forget_copies()
    renderer = Renderer(pack, scenario.sample_rate)
    renderer.prepare(scenario.bpm, scenario.beats_per_bar)
    times = []
    for plan in replay.played_plans(LogReader(log)):
        started = time.perf_counter()
        audio = renderer.render(plan)
        hear(audio, scenario.sample_rate, plan.beats_per_bar)
        bar_checksum(audio)
        pcm16(audio)
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return {
        "bars": len(times),
        "median": statistics.median(times),
        "mean": statistics.fmean(times),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "cold": times[0],
    }


def default_set(out: Path) -> Path:
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(ROOT / "scenarios" / "default.toml")]
    argv += ["--minutes", "8", "--fast", "--no-audio", "--no-report", "--quiet", "--out", str(out)]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    (log,) = out.glob("*.bgnlog")
    return log


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--before", default="5d6d18b", help="the commit to compare with")
    parser.add_argument("--default-log", type=Path, help="a logged 8-minute default set (else one is played)")
    parser.add_argument("--no-per-bar", action="store_true", help="only the interleaved sets")
    parser.add_argument("--cold", action="store_true", help="every round from an empty cache of copies")
    args = parser.parse_args()
    console = Console(width=140)
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = worktree(args.before, tmp)
        for tree in (before, ROOT):
            compiled(tree)
        out = tmp / "out"
        out.mkdir()
        try:
            load_before = load()
            runs: list[Run] = []
            cache = tmp / "copies"
            for round_ in range(args.rounds):
                cold = round_ == 0 or args.cold
                if cold and cache.exists():
                    shutil.rmtree(cache)
                runs.append(run_set(before, args.minutes, out, args.before, cache))
                run = run_set(ROOT, args.minutes, out, "this code", cache)
                runs.append(run._replace(cache="cold" if cold else "warm"))
            load_after = load()
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False)
        title = f"{args.minutes:g}-minute autopilot set, --fast --no-audio, seed 1: {args.rounds} interleaved rounds"
        table = Table(title=f"{title}, both byte-compiled; load {load_before} before, {load_after} after")
        columns = ("round", "code", "cache", "wall s", "× real time", "CPU s (all)", "set CPU s", "worker CPU s",
                   "peak RSS MB: set", "worker", "sum", "this / before (wall)")  # fmt: skip
        for column in columns:
            table.add_column(column, justify="right")
        for i, run in enumerate(runs):
            worker = (f"{run.worker_cpu:.2f}", f"{run.worker_rss:.0f}") if run.worker_rss else ("-", "-")
            ratio = f"{run.wall / runs[i - 1].wall:.2f}" if i % 2 else ""
            table.add_row(str(i // 2 + 1) if i % 2 == 0 else "", run.code, run.cache, f"{run.wall:.2f}",
                          f"{seconds / run.wall:.0f}", f"{run.cpu:.2f}", f"{run.set_cpu:.2f}" if run.set_cpu else "-",
                          worker[0], f"{run.rss:.0f}", worker[1],
                          f"{run.rss + run.worker_rss:.0f}", ratio)  # fmt: skip
        console.print(table)
        if args.no_per_bar:
            return
        log = args.default_log or default_set(out)
        os.environ[copy_cache.ENV] = str(tmp / "per-bar copies")  # none yet: the first bar cold
        costs = per_bar(log)
        console.print(
            f"8-minute default set ({log.name}), per bar (render + hearing + checksum + 16-bit samples,"
            f" {costs['bars']:.0f} bars):"
            f" median {costs['median']:.2f} ms, mean {costs['mean']:.2f} ms, p99 {costs['p99']:.1f} ms,"
            f" cold (first bar) {costs['cold']:.1f} ms; load {load()}",
            highlight=False,
        )


if __name__ == "__main__":
    main()
