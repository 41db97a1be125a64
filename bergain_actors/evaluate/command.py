"""``bergain-actors evaluate``: play a grid of sets (or what-ifs of logged sets) and print the figures per brain
with their spread across seeds, as a table a person reads or as JSON. Sets already done in ``--out`` are skipped,
so an interrupted evaluation is finished by running the same command again."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bergain_actors.core import scenario as scenarios
from bergain_actors.evaluate import run, whatifs
from bergain_actors.evaluate.grid import (
    BRAINS,
    FIGURES,
    SCENARIO_CRITIC,
    Grid,
    GridError,
    Group,
    SetResult,
    parse_briefs,
    parse_seeds,
    summarize,
)
from bergain_actors.evaluate.spread import Spread

DEFAULT_OUT = scenarios.PACKAGE_ROOT / "logs" / "evaluate"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="play a grid of sets (brains × critics × briefs × seeds) and compare the brains",
        description="Play every set of a grid offline (or --whatif: logged sets again with --swap), keep each set's "
        "log and WAV, and print the music benchmark's figures and the decisions per brain: mean and 95 % interval "
        "across seeds. Sets already done in --out are skipped.",
    )
    grid = p.add_argument_group("the grid (not with --whatif: a logged set is played again as it was)")
    brains = f"comma-separated: {', '.join(BRAINS)} or scenario.toml paths (default autopilot)"
    grid.add_argument("--brains", help=brains)
    grid.add_argument("--critics", help="comma-separated critic kinds (default: each brain's scenario's)")
    grid.add_argument("--seeds", help="e.g. 1-50 or 1,3,5 (default 1-10)")
    grid.add_argument("--briefs", type=Path, help="a file of briefs, one a line (default: each brain's scenario's)")
    grid.add_argument("--minutes", type=float, help="length of each set (default 8)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the sets (default {DEFAULT_OUT})")
    p.add_argument("--jobs", type=int, default=1, help="sets played at once, each in its own process")
    p.add_argument("--cluster", metavar="ADDRESS", help="play the sets on this Dask scheduler (tcp://host:8786)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--whatif", nargs="+", type=Path, metavar="LOG", help="play these logged sets again with --swap")
    p.add_argument("--swap", action="append", default=[], metavar="SLOT=KIND", help="with --whatif: what to swap")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bergain_actors.cli import INCOMPLETE, BadInput
    from bergain_actors.whatif import IncompleteLog

    try:
        if args.jobs < 1:
            raise GridError(f"--jobs: expected 1 or more, got {args.jobs}")
        if args.whatif:
            given = [name for name in GRID_FLAGS if getattr(args, name) is not None]
            if given:
                flags = ", ".join(f"--{name}" for name in given)
                raise GridError(f"{flags}: the grid's; --whatif plays each logged set again as it was, but --swap")
            return _whatif(args)
        if args.swap:
            raise GridError("--swap: only with --whatif LOGS")
        return _grid(args)
    except GridError as exc:
        raise BadInput(str(exc)) from None
    except IncompleteLog as exc:
        print(f"bergain-actors: {exc}", file=sys.stderr)
        return INCOMPLETE


GRID_FLAGS = {"brains": "autopilot", "critics": "", "seeds": "1-10", "briefs": None, "minutes": 8.0}
"""The grid's flags and their defaults (None on the command line: not given)."""


def grid_of(args: argparse.Namespace) -> Grid:
    minutes = _flag(args, "minutes")
    if not 0 < minutes <= scenarios.MAX_MINUTES:
        raise GridError(f"--minutes: expected more than 0 and at most {scenarios.MAX_MINUTES}, got {minutes:g}")
    brains = tuple(dict.fromkeys(b.strip() for b in _flag(args, "brains").split(",") if b.strip()))
    if not brains:
        raise GridError("--brains: name at least one brain")
    from bergain_actors.cli import check_kinds
    from bergain_actors.core.actor import factory
    from bergain_actors.performance import lm_lacking

    critics = tuple(dict.fromkeys(c.strip() for c in _flag(args, "critics").split(",") if c.strip()))
    for critic in critics:
        try:
            factory("critic", critic)
        except LookupError as exc:
            raise GridError(f"--critics: {exc}") from None
    for brain in brains:  # a scenario that cannot play is the user's to fix, named now: not one failed set each
        path = run.brain_scenario(brain)
        scenario = scenarios.load(path)[0]
        check_kinds(scenario, path.name)
        for critic in critics or (scenario.critic.kind,):
            played = scenarios.replace(scenario, critic=msgspec.structs.replace(scenario.critic, kind=critic))
            for lack in lm_lacking(played):  # its figures would be its fallback's, under its name
                flag = f"--brains {brain}" if lack.slot == "conductor" else f"--critics {critic} with {brain}"
                why = f"{lack.who()} needs an LM and none can answer ({lack.reason})"
                raise GridError(f"{flag}: {why}; the sets would measure the {lack.plays}")
    briefs: tuple[str, ...] = ()
    if args.briefs is not None:
        try:
            briefs = parse_briefs(args.briefs.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise GridError(f"--briefs {args.briefs}: {exc}") from None
        if not briefs:
            raise GridError(f"--briefs {args.briefs}: no brief in it (one a line; # starts a comment)")
    return Grid(brains, critics or (SCENARIO_CRITIC,), briefs, parse_seeds(_flag(args, "seeds")), minutes)


def _flag(args: argparse.Namespace, name: str) -> Any:
    """A grid flag as given, or its default."""
    value = getattr(args, name)
    return GRID_FLAGS[name] if value is None else value


def _grid(args: argparse.Namespace) -> int:
    from bergain_actors.cli import check_folder

    grid = grid_of(args)
    check_folder(args.out, make=args.cluster is None)  # a cluster's address is checked first: nothing made for it
    out = args.out.resolve()
    cells = grid.cells()
    results = {cell: r for cell in cells if (r := run.done(grid, cell, out)) is not None}
    todo = [cell for cell in cells if cell not in results]
    err = Console(stderr=True, soft_wrap=True)
    if results:
        err.print(f"evaluate: {len(results)} of {len(cells)} sets already done in {out}; playing the other {len(todo)}")
    started = time.monotonic()
    tasks: list[run.Task] = [(run.play_cell, (grid, cell, str(out))) for cell in todo]

    def arrived(answer: bytes) -> str:
        result = run.read_result(answer, SetResult)
        results[result.cell] = result
        return result.cell.folder()

    failed = _play(tasks, [cell.folder() for cell in todo], args, arrived, err, len(results))
    if failed:
        return _failed(failed, len(cells), out, err)
    err.print(f"evaluate: {len(todo)} sets played in {time.monotonic() - started:.1f} s; {len(cells)} in the table")
    ordered = [results[cell] for cell in sorted(cells)]
    groups = summarize(ordered)
    if args.json:
        payload = {"grid": grid, "groups": groups, "sets": ordered}
        print(msgspec.json.encode(payload, order="sorted").decode())  # strict JSON: a figure with no value is null
    else:
        show_grid(grid, groups)
    return 0


SHOWN_FAILURES = 5


def _failed(failed: dict[str, str], total: int, out: Path, err: Console) -> int:
    """Sets that could not be played: named with why (the first few), no table (it would leave them out)."""
    from bergain_actors.cli import FAILED

    err.print(
        f"evaluate: {len(failed)} of {total} sets failed; the {total - len(failed)} done are kept in {out}:"
        " run the same command to play the failed ones again",
        highlight=False,
    )
    for name, reason in list(failed.items())[:SHOWN_FAILURES]:
        err.print(f"  {name}: {reason}", highlight=False, markup=False)
    if len(failed) > SHOWN_FAILURES:
        err.print(f"  and {len(failed) - SHOWN_FAILURES} more", highlight=False)
    return FAILED


def _play(
    tasks: list[run.Task],
    names: list[str],
    args: argparse.Namespace,
    arrived: Callable[[bytes], str],
    err: Console,
    skipped: int,
) -> dict[str, str]:
    """Run the tasks with a progress bar on a terminal (a line per set otherwise, with the time left); Ctrl-C keeps
    what is done. Returns the tasks that failed, by name, with why."""
    total = skipped + len(tasks)
    columns = (TextColumn("evaluate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    progress = Progress(*columns, TextColumn("{task.fields[last]}"), console=err, disable=not err.is_terminal)
    bar = progress.add_task("sets", total=total, completed=skipped, last="")
    count = skipped
    failed: dict[str, str] = {}
    started = time.monotonic()

    def settled(name: str) -> None:
        nonlocal count
        count += 1
        progress.update(bar, advance=1, last=name)
        if not err.is_terminal:
            elapsed = time.monotonic() - started
            left = elapsed / (count - skipped) * (total - count)
            err.print(f"evaluate: {count}/{total} {name} ({elapsed:.0f} s, about {left:.0f} s left)", highlight=False)

    def on_failed(index: int, reason: str) -> None:
        failed[names[index]] = reason
        err.print(f"evaluate: {names[index]} failed: {reason}", highlight=False, markup=False)
        settled(names[index])

    def say(notice: str) -> None:
        err.print(f"evaluate: {notice}", highlight=False, markup=False)

    tell = run.Callbacks(done=lambda _, answer: settled(arrived(answer)), failed=on_failed, say=say)
    try:
        with _ctrl_c_reaches_us(), progress:
            run.run_all(tasks, args.jobs, args.cluster, tell)
    except KeyboardInterrupt:
        err.print(f"evaluate: interrupted after {count} of {total} sets; run the same command to play the rest")
        raise
    return failed


@contextlib.contextmanager
def _ctrl_c_reaches_us() -> Iterator[None]:
    """Ctrl-C stops the evaluation even when this process inherited SIGINT ignored or blocked (a background job of
    a non-interactive shell, as CI starts one): Python then installs no handler of its own, nor does trio inside
    a set, and the grid would play on to its end. Restored after, in the main thread only (where handlers live)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if previous is not None:  # None: a handler installed outside Python, which cannot be put back
            signal.signal(signal.SIGINT, previous)


def show_grid(grid: Grid, groups: list[Group]) -> None:
    console = Console(width=200)
    briefs = f"{len(grid.briefs)} briefs" if grid.briefs else "each scenario's brief"
    title = f"{len(grid.seeds)} seeds × {briefs}, {grid.minutes:g}-minute sets: mean ±95 % interval"
    table = Table(title=title)
    table.add_column("figure")
    for group in groups:
        table.add_column(f"{group.brain}\n{group.critic or 'its critic'}\n{group.sets} sets", justify="right")
    for key, (label, digits) in FIGURES.items():
        table.add_row(label, *(group.figures[key].cell(digits) for group in groups))
    console.print(table)


def _whatif(args: argparse.Namespace) -> int:
    from bergain_actors.cli import check_folder
    from bergain_actors.whatif import WhatIfError, check_whole, parse_swaps

    if not args.swap:
        raise GridError("--whatif: say what to swap, e.g. --swap conductor=autopilot")
    try:
        swaps = parse_swaps(args.swap)
    except WhatIfError as exc:
        raise GridError(str(exc)) from None
    for log in args.whatif:
        if not log.is_file():
            raise GridError(f"--whatif {log}: no such log")
        check_whole(log)  # before any plays: not a failed set that playing again would fail the same way
    check_folder(args.out, make=args.cluster is None)
    out = args.out.resolve()
    logs = list(dict.fromkeys(args.whatif))
    results = {str(log): r for log in logs if (r := whatifs.done(out, log, swaps)) is not None}
    todo = [log for log in logs if str(log) not in results]
    err = Console(stderr=True, soft_wrap=True)
    if results:
        err.print(f"evaluate: {len(results)} of {len(logs)} what-ifs already done in {out}")

    def arrived(answer: bytes) -> str:
        result = run.read_result(answer, whatifs.WhatIfResult)
        results[result.log] = result
        return Path(result.log).name

    tasks: list[run.Task] = [(whatifs.play_whatif, (str(log), swaps, str(out))) for log in todo]
    failed = _play(tasks, [str(log) for log in todo], args, arrived, err, len(results))
    if failed:
        return _failed(failed, len(logs), out, err)
    ordered = [results[str(log)] for log in logs]
    summary = whatifs.summarize(ordered)
    if args.json:
        print(msgspec.json.encode({"swaps": swaps, "summary": summary, "sets": ordered}, order="sorted").decode())
    else:
        show_whatif(swaps, summary)
    return 0


def show_whatif(swaps: dict[str, str], s: whatifs.WhatIfSummary) -> None:
    console = Console(width=160)
    swapped = ", ".join(f"{slot}={kind}" for slot, kind in swaps.items())
    console.print(
        f"what-if {swapped} over {s.sets} sets: {s.diverged} diverged; bars differing"
        f" {s.differing_bars_pct.cell(0)} %; first divergent bar {s.first_divergent_bar.cell(0)};"
        f" {s.not_decided} sets where the swapped-in kind did not decide every bar",
        highlight=False,
    )
    table = Table(title="mean ±95 % interval across the sets")
    for column in ("figure", "original", "what-if", "change"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for key in whatifs.MUSIC:
        label, digits = FIGURES[key]
        cells: list[Spread] = [s.original[key], s.what_if[key], s.change[key]]
        table.add_row(label, *(c.cell(digits) for c in cells))
    console.print(table)
