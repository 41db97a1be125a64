"""Playing an evaluation's sets: one set per cell into its own folder (log, WAV, ``result.json``), in this process,
in ``--jobs`` processes, or on a Dask cluster; a set whose ``result.json`` is there is done and is not played again.

Dask distributed, not Ray, runs the grid on a cluster: it is pure Python (35 MB installed with what it added), a
local cluster starts in under a second, and its scheduler needs nothing but an address (Ray ships a large native
wheel and daemons of its own). A cluster's workers write into ``--out``: a folder every worker
sees (a shared file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import msgspec

from bergain_actors.core import scenario as scenarios
from bergain_actors.evaluate.grid import (
    BRAINS,
    SCENARIO_CRITIC,
    Cell,
    Grid,
    GridError,
    SetResult,
    decisions,
)

RESULT = "result.json"
SETS = "sets"


def brain_scenario(brain: str) -> Path:
    """The scenario a brain name plays: a shipped one by name, or a scenario.toml by path."""
    if brain in BRAINS:
        return scenarios.PACKAGE_ROOT / "scenarios" / BRAINS[brain]
    path = Path(brain)
    if path.suffix == ".toml" and path.is_file():
        return path.resolve()
    raise GridError(f"--brains: unknown brain {brain!r} (known: {', '.join(BRAINS)}, or a path to a scenario.toml)")


def cell_scenario(grid: Grid, cell: Cell) -> tuple[scenarios.Scenario, str]:
    scenario, text = scenarios.load(brain_scenario(cell.brain))
    scenario = scenarios.replace(scenario, minutes=grid.minutes, bars=None, seed=cell.seed)
    if cell.critic != SCENARIO_CRITIC:
        scenario = scenarios.replace(scenario, critic=msgspec.structs.replace(scenario.critic, kind=cell.critic))
    if cell.brief >= 0:
        brief = grid.brief(cell)
        scenario = scenarios.replace(scenario, conductor=msgspec.structs.replace(scenario.conductor, brief=brief))
    return scenario, text


def done(grid: Grid, cell: Cell, out: Path) -> SetResult | None:
    """The cell's result if its set was played to the end before, as this grid asks (its log and WAV still
    there)."""
    folder = out / SETS / cell.folder()
    try:
        result = msgspec.json.decode((folder / RESULT).read_bytes(), type=SetResult)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if (result.cell, result.minutes, result.brief) != (cell, grid.minutes, grid.brief(cell)):
        return None
    if not (out / result.log).is_file() or not (out / result.wav).is_file():
        return None
    return result


def play_cell(grid: Grid, cell: Cell, out: str) -> bytes:
    """Play one set of the grid offline into its folder under ``out`` and record its result; returns the result as
    JSON (what crosses a process or the network). A folder left by an interrupted set is emptied first."""
    import soundfile as sf
    import structlog
    import trio

    from bergain_actors.assess import assess
    from bergain_actors.core.log import LogReader
    from bergain_actors.performance import perform

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    root = Path(out)
    folder = root / SETS / cell.folder()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    scenario, text = cell_scenario(grid, cell)
    log_path, wav_path = folder / "set.bgnlog", folder / "set.wav"
    played = trio.run(lambda: perform(scenario, text, log_path=log_path, wav_path=wav_path, keep_events=True))
    audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
    report = assess(list(LogReader(log_path)), audio, rate, scenario.conductor.phrase_bars)
    result = SetResult(
        cell=cell,
        minutes=grid.minutes,
        brief=grid.brief(cell),
        report=report,
        decisions=decisions(played.events, played.summary),
        log=str(log_path.relative_to(root)),
        wav=str(wav_path.relative_to(root)),
        wav_sha256=sha256(wav_path),
    )
    return keep_result(folder, result)


def keep_result(folder: Path, result: msgspec.Struct) -> bytes:
    """Write ``result.json`` whole or not at all (what marks a set done); returns it as JSON."""
    encoded = msgspec.json.encode(result)
    partial = folder / f".{RESULT}.partial"
    partial.write_bytes(encoded)
    partial.replace(folder / RESULT)
    return encoded


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


Task = tuple[Callable[..., bytes], tuple[Any, ...]]


def run_all(tasks: list[Task], jobs: int, cluster: str | None, on_done: Callable[[bytes], None]) -> None:
    """Run ``tasks`` (a picklable function and its arguments, each returning bytes), calling ``on_done`` with each
    answer as it arrives: in this process (``jobs`` 1, no cluster), in ``jobs`` fresh processes, or on the Dask
    scheduler at ``cluster``. Ctrl-C cancels what has not started; what finished is kept."""
    if cluster:
        _on_cluster(tasks, cluster, on_done)
    elif jobs <= 1:
        for fn, args in tasks:
            on_done(fn(*args))
    else:
        with _pool(jobs) as pool:
            pending: set[Future[bytes]] = {pool.submit(fn, *args) for fn, args in tasks}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    on_done(future.result())


@contextlib.contextmanager
def _pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """Fresh processes (spawned: nothing of this one's threads or trio state is copied), one set at a time each."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _on_cluster(tasks: list[Task], address: str, on_done: Callable[[bytes], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - installed by make setup
        raise GridError(f"--cluster needs Dask distributed: {exc}") from None
    try:
        client = Client(address, timeout=30)
    except OSError as exc:
        raise GridError(f"--cluster {address}: cannot reach the Dask scheduler: {exc}") from None
    with client:
        futures = [client.submit(fn, *args, pure=False) for fn, args in tasks]
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except BaseException:
            client.cancel(futures)
            raise
