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
import math
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

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
LOCAL_LM_WAIT_S = 600.0
"""How long a grid's set waits for the embedded LM's answer (its scenario's ``timeout_s`` is for live sets, where
the music cannot wait). Offline the music waits for decisions anyway; under the scenario's 20 s a loaded machine
made 3 of 16 ballots time out, so a set's figures depended on the load, not only on its cell."""


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
    providers = [
        msgspec.structs.replace(p, timeout_s=max(p.timeout_s, LOCAL_LM_WAIT_S)) if p.kind == "local" else p
        for p in scenario.router.providers
    ]
    scenario = scenarios.replace(scenario, router=msgspec.structs.replace(scenario.router, providers=providers))
    return scenario, text


R = TypeVar("R", bound=msgspec.Struct)


def read_result(data: bytes, kind: type[R]) -> R:
    """A result from its JSON. A figure a set has no value for is NaN (a set too short for a breakdown has no
    breakdown-to-peak figure), which JSON writes as null: read back as NaN (no result field is ever None)."""
    return msgspec.convert(_nan_for_null(msgspec.json.decode(data)), kind)


def _nan_for_null(value: Any) -> Any:
    if value is None:
        return math.nan
    if isinstance(value, dict):
        return {key: _nan_for_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_for_null(item) for item in value]
    return value


def done(grid: Grid, cell: Cell, out: Path) -> SetResult | None:
    """The cell's result if its set was played to the end before, as this grid asks (its log and WAV still
    there)."""
    folder = out / SETS / cell.folder()
    try:
        result = read_result((folder / RESULT).read_bytes(), SetResult)
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
POOL_RESTARTS = 2
"""How many times a pool whose process died (killed, out of memory) is started again for the sets not done."""
CONNECT_S = 10.0
"""How long to try reaching a Dask scheduler before saying it cannot be reached."""


class Callbacks(msgspec.Struct, frozen=True):
    """What ``run_all`` tells its caller: a task's answer, a task that failed (and why, one line), a notice."""

    done: Callable[[int, bytes], None]
    failed: Callable[[int, str], None]
    say: Callable[[str], None]


def run_all(tasks: list[Task], jobs: int, cluster: str | None, tell: Callbacks) -> None:
    """Run ``tasks`` (a picklable function and its arguments, each returning bytes), telling each answer or failure
    by the task's index as it arrives: in this process (``jobs`` 1, no cluster), in ``jobs`` fresh processes, or on
    the Dask scheduler at ``cluster``. A task that raises fails alone; the others play on. Ctrl-C cancels what has
    not started; what finished is kept."""
    if cluster:
        _on_cluster(tasks, cluster, tell)
    elif jobs <= 1:
        for index, (fn, args) in enumerate(tasks):
            try:
                answer = fn(*args)
            except Exception as exc:
                tell.failed(index, why(exc))
                continue
            tell.done(index, answer)
    else:
        _in_processes(tasks, jobs, tell)


def why(exc: BaseException) -> str:
    """A task's failure in one line."""
    if type(exc).__name__ == "KilledWorker":
        return "its Dask worker died each time it played it (killed, or out of memory?)"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


def _in_processes(tasks: list[Task], jobs: int, tell: Callbacks) -> None:
    """A pool of ``jobs`` processes. When one dies the pool breaks and every set not done with it: the pool is
    started again for them (``POOL_RESTARTS`` times), as Dask's workers play again a set whose worker died."""
    left = dict(enumerate(tasks))
    for restart in range(POOL_RESTARTS + 1):
        broken = False
        with _pool(jobs) as pool:
            futures = {pool.submit(fn, *args): index for index, (fn, args) in left.items()}
            for future in as_completed(futures):
                index = futures[future]
                try:
                    answer = future.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except Exception as exc:
                    del left[index]
                    tell.failed(index, why(exc))
                    continue
                del left[index]
                tell.done(index, answer)
        if not broken or not left:
            return
        if restart < POOL_RESTARTS:
            tell.say(f"a set's process died (killed, or out of memory?); playing the {len(left)} sets not done again")
    for index in left:
        tell.failed(index, f"the sets' processes died {POOL_RESTARTS + 1} times (killed, or out of memory?)")


@contextlib.contextmanager
def _pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """Fresh processes (spawned: nothing of this one's threads or trio state is copied), one set at a time each.
    Interrupted, the sets playing stop at once (their folders are played again next time); the pool would
    otherwise wait for each to end, and play one more it had queued, before Ctrl-C was seen to do anything."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        for process in list((pool._processes or {}).values()):  # no public way before 3.14's terminate_workers
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _on_cluster(tasks: list[Task], address: str, tell: Callbacks) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - installed by make setup
        raise GridError(f"--cluster needs Dask distributed: {exc}") from None
    tell.say(f"connecting to the Dask scheduler at {address}")
    try:
        client = Client(address, timeout=CONNECT_S)
    except (OSError, ValueError) as exc:  # unreachable (OSError, TimeoutError), or not an address (ValueError)
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GridError(f"--cluster {address}: cannot reach the Dask scheduler: {problem}") from None
    with client:
        if not client.scheduler_info().get("workers"):
            tell.say(f"the scheduler at {address} has no workers yet; the sets wait for one (dask worker {address})")
        futures = {client.submit(fn, *args, pure=False): index for index, (fn, args) in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                try:
                    answer = future.result()
                except Exception as exc:
                    tell.failed(index, why(exc))
                    continue
                tell.done(index, answer)
        except BaseException:
            client.cancel(list(futures))
            raise
