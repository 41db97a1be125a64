"""`evaluate`: a grid of sets played into their own folders, each set's log and WAV kept and verifiable, the
figures per brain with their spread across seeds, the same table from `--jobs` processes and from a Dask cluster,
an interrupted grid finished by running it again, and what-ifs over logged sets aggregated."""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bergain_actors import replay
from bergain_actors.cli import main
from bergain_actors.evaluate.grid import Cell, Grid, GridError, parse_briefs, parse_seeds
from bergain_actors.evaluate.run import sha256
from bergain_actors.evaluate.spread import spread, t_quantile
from tests.test_interrupt import lines_until, signal_when

ROOT = Path(__file__).resolve().parents[1]
BRIEFS = "# two briefs\nDark, hypnotic, patient.\n\nBright and driving, a change every phrase.\n"
CORPUS = Path(__file__).parent / "corpus"


def test_seeds_are_ranges_and_lists_each_once_and_bad_ones_are_named():
    assert parse_seeds("1-3") == (1, 2, 3)
    assert parse_seeds("5, 1-2,2") == (5, 1, 2)
    assert parse_seeds("-2--1") == (-2, -1)
    for text, problem in [("3-1", "runs backwards"), ("a", "expected numbers"), ("1-", "expected numbers")]:
        with pytest.raises(GridError, match=problem):
            parse_seeds(text)


def test_briefs_file_skips_blank_lines_and_comments():
    assert parse_briefs(BRIEFS) == ("Dark, hypnotic, patient.", "Bright and driving, a change every phrase.")


def test_the_interval_is_students_t_and_widens_with_fewer_seeds():
    assert t_quantile(0.975, 1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(0.975, 9) == pytest.approx(2.2622, abs=1e-4)
    assert t_quantile(0.975, 49) == pytest.approx(2.0096, abs=1e-4)
    s = spread([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.high - s.mean == pytest.approx(3.1824 * math.sqrt(5 / 3) / 2, abs=1e-3)
    assert spread([1.0, math.nan, 3.0]).n == 2
    assert spread([7.0]).cell() == "7.0" and spread([]).cell() == "-"


def test_a_grid_is_every_brain_critic_brief_and_seed_each_in_its_own_folder():
    grid = Grid(("autopilot", "x/y.toml"), ("arc", "none"), ("a", "b", "c"), (1, 2), 1.0)
    cells = grid.cells()
    assert len(cells) == 2 * 2 * 3 * 2 and len({c.folder() for c in cells}) == len(cells)
    assert Cell("x/y.toml", "", -1, 3).folder() == "x-y.toml/critic-scenario/brief-scenario/seed-3"


def evaluate(capsys, *argv: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = main(["evaluate", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else {}, err


def test_bad_grids_exit_2_naming_the_flag(tmp_path, capsys):
    shipped = (ROOT / "scenarios" / "autopilot.toml").read_text().replace("../", f"{ROOT}/")
    (tmp_path / "typo.toml").write_text(shipped.replace("bpm = 128", 'bpm = "fast"'))
    (tmp_path / "kind.toml").write_text(shipped.replace('kind = "arc"', 'kind = "harsh"'))
    (tmp_path / "nolm.toml").write_text(shipped.replace('kind = "autopilot"', 'kind = "phrase"'))
    for argv, problem in [
        (["--brains", f"autopilot,{tmp_path / 'typo.toml'}"], 'typo.toml: bpm: expected float, got "fast"'),
        (["--brains", str(tmp_path / "kind.toml")], "kind.toml: critic.kind: unknown kind 'harsh'"),
        (["--brains", "nobody"], "--brains: unknown brain 'nobody'"),
        (["--brains", str(tmp_path / "nolm.toml")], f"--brains {tmp_path / 'nolm.toml'}: the phrase brain needs an LM"),
        (["--critics", "arc,llm"], "--critics llm with autopilot: the llm critic needs an LM and none can answer"),
        (["--critics", "harsh"], "--critics: critic.kind: unknown kind 'harsh'"),
        (["--seeds", "9-1"], "--seeds 9-1: the range 9-1 runs backwards"),
        (["--minutes", "0"], "--minutes: expected more than 0"),
        (["--jobs", "0"], "--jobs: expected 1 or more, got 0"),
        (["--briefs", str(tmp_path / "none.txt")], "--briefs"),
        (["--swap", "conductor=autopilot"], "--swap: only with --whatif LOGS"),
        (["--whatif", str(tmp_path / "gone.bgnlog"), "--swap", "conductor=autopilot"], "--whatif "),
        (
            ["--whatif", str(CORPUS / "autopilot.bgnlog"), "--swap", "critic=none", "--seeds", "1-3", "--minutes", "1"],
            "--seeds, --minutes: the grid's; --whatif plays each logged set again as it was",
        ),  # before: ignored
    ]:
        code, _, err = evaluate(capsys, *argv, "--out", str(tmp_path / "out"))
        assert code == 2 and err.startswith(f"bergain-actors: {problem}"), (argv, err)
        assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_a_cluster_address_that_is_wrong_or_unreachable_exits_2_saying_so(tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on (bound, then closed)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address, problem in [
        ("nonsense://host:8786", "unknown address scheme 'nonsense'"),
        (f"tcp://127.0.0.1:{port}", f"Timed out trying to connect to tcp://127.0.0.1:{port}"),
    ]:
        argv = ["--seeds", "1", "--minutes", "1", "--cluster", address, "--out", str(tmp_path / "out")]
        code, _, err = evaluate(capsys, *argv)
        assert code == 2, err
        assert f"bergain-actors: --cluster {address}: cannot reach the Dask scheduler: {problem}" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(600)
def test_a_grids_set_waits_for_the_embedded_lm_so_the_machines_load_cannot_change_its_figures(tmp_path, capsys):
    """The scenario gives the embedded LM 10 ms an answer, which no ballot meets (as its 20 s did not on this
    machine at load 8: 3 of 16 timed out, so the figures followed the load). Offline the music waits for decisions:
    the grid's set waits for every answer all the same."""
    shipped = (ROOT / "scenarios" / "local_phrase.toml").read_text()
    impatient = shipped.replace("timeout_s = 20.0", "timeout_s = 0.01").replace("../", f"{ROOT}/")
    assert "timeout_s = 0.01" in impatient and "../" not in impatient
    scenario = tmp_path / "impatient.toml"
    scenario.write_text(impatient)
    argv = ["--brains", str(scenario), "--seeds", "1", "--minutes", "1", "--jobs", "2", "--out", str(tmp_path / "out")]
    code, result, err = evaluate(capsys, *argv)
    assert code == 0, err[-2000:]
    (played,) = result["sets"]
    decided = played["decisions"]
    assert decided["lm_requests"] >= 1 and decided["lm_failures"] == 0, decided
    assert decided["phrase_decisions"] >= 1 and decided["fallbacks"] == 0, decided


@pytest.mark.timeout(600)
def test_a_set_that_cannot_be_played_is_named_the_others_play_and_the_evaluation_exits_1(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    shipped = (ROOT / "scenarios" / "autopilot.toml").read_text()
    packless = shipped.replace('"../sample_pack"', f'"{tmp_path / "empty"}"').replace("../", f"{ROOT}/")
    assert str(tmp_path / "empty") in packless
    (tmp_path / "packless.toml").write_text(packless)
    brains = f"autopilot,{tmp_path / 'packless.toml'}"
    argv = ["--brains", brains, "--seeds", "1", "--minutes", "0.25", "--jobs", "2", "--out", str(tmp_path / "out")]
    code, _, err = evaluate(capsys, *argv)
    assert code == 1, err[-2000:]
    assert "evaluate: 1 of 2 sets failed; the 1 done are kept in " in err, err[-2000:]
    failed = Cell(str(tmp_path / "packless.toml"), "", -1, 1).folder()
    assert f"  {failed}: FileNotFoundError: sample_pack: no usable samples in {tmp_path / 'empty'}" in err, err
    assert (tmp_path / "out" / "sets" / Cell("autopilot", "", -1, 1).folder() / "result.json").is_file()


def test_a_set_too_short_for_a_figure_is_tabled_without_it_and_the_json_is_strict(tmp_path, capsys):
    """A 1-bar set has no breakdown to compare with its peaks: the figure is NaN. Before, JSON carried it as null
    and reading the set's result back failed (a traceback, exit 1), and ``--json`` printed ``NaN``."""
    argv = ["--brains", "autopilot", "--seeds", "1", "--minutes", "0.001", "--out", str(tmp_path)]
    assert main(["evaluate", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert result["sets"][0]["report"]["bars"] == 1 and result["sets"][0]["report"]["breakdown_to_peak_lu"] is None
    assert main(["evaluate", *argv]) == 0  # read back from its result.json: done, not played again
    assert "1 of 1 sets already done" in capsys.readouterr().err


GRID = ["--brains", "autopilot,phrase-scripted", "--seeds", "1-2", "--minutes", "1"]


def _as_a_background_job() -> None:
    """In the child: SIGINT ignored and blocked, as a non-interactive shell's background job (CI) inherits it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def interrupted_grid(out: Path, briefs: Path) -> None:
    """Start the grid with ``--jobs 2`` in a child and Ctrl-C it once its first set is done: the set done stays done,
    the two playing stop (one may have ended meanwhile). The child starts as a background job would (SIGINT ignored
    and blocked): Ctrl-C must stop it all the same."""
    argv = [sys.executable, "-m", "bergain_actors.cli", "evaluate", *GRID, "--briefs", str(briefs), "--out", str(out)]
    argv += ["--jobs", "2"]
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_as_a_background_job
    )
    said = signal_when(child, lambda line: line.startswith("evaluate: 1/4 "))
    assert child.returncode == 130, said[-2000:]
    assert "evaluate: interrupted after" in said and "run the same command to play the rest" in said, said[-2000:]


def finished_with_its_processes_killed(out: Path, briefs: Path) -> tuple[dict, str]:
    """Finish the grid with ``--jobs 2`` in a child and SIGKILL its sets' processes once it has played one more set
    (as the kernel's OOM killer would): the sets not done are played again in a new pool. The JSON and stderr."""
    import psutil

    argv = [sys.executable, "-m", "bergain_actors.cli", "evaluate", *GRID, "--briefs", str(briefs), "--out", str(out)]
    printed = out.parent / "jobs.json"
    with printed.open("w") as stdout:
        child = subprocess.Popen(
            [*argv, "--jobs", "2", "--json"], stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
    said, killed = [], []
    try:
        for line in lines_until(child, 600):
            said.append(line)
            if not killed and line.startswith("evaluate: ") and "/4 " in line and not line.startswith("evaluate: 4/4"):
                pool = [p for p in psutil.Process(child.pid).children() if "spawn_main" in " ".join(p.cmdline())]
                for process in pool:
                    process.kill()
                killed = pool
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    err = "".join(said)
    assert killed, f"no set was left to play when a set was done: {err[-2000:]}"
    assert child.returncode == 0, err[-2000:]
    return json.loads(printed.read_text()), err


@pytest.mark.timeout(900)
def test_a_grid_interrupted_then_finished_with_its_processes_killed_gives_the_jobs_table_on_a_cluster(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    briefs = tmp_path / "briefs.txt"
    briefs.write_text("# one brief (a grid of two is counted without playing it)\nBright and driving.\n")
    local = tmp_path / "jobs"
    interrupted_grid(local, briefs)
    done_before = sorted(local.glob("sets/**/result.json"))
    assert 1 <= len(done_before) <= 2, "the sets playing at Ctrl-C were played to their end"
    before = {p: p.read_bytes() for p in done_before}

    jobs, err = finished_with_its_processes_killed(local, briefs)
    assert f"evaluate: {len(done_before)} of 4 sets already done" in err
    assert "a set's process died (killed, or out of memory?); playing the " in err, err[-2000:]
    assert all(p.read_bytes() == data for p, data in before.items()), "a set done before is not played again"
    groups = [(g["brain"], g["critic"], g["sets"]) for g in jobs["groups"]]
    assert groups == [("autopilot", "", 2), ("phrase-scripted", "", 2)]
    sets = jobs["sets"]
    assert len(sets) == 4 and len({(s["cell"]["seed"], s["cell"]["brain"]) for s in sets}) == 4
    assert {s["brief"] for s in sets} == {"Bright and driving."}
    for s in sets:
        assert sha256(local / s["wav"]) == s["wav_sha256"]
        assert s["report"]["bars"] == 32 and s["report"]["silent_seconds"] == 0
    phrase = [s for s in sets if s["cell"]["brain"] == "phrase-scripted"]
    assert all(s["decisions"]["phrase_decisions"] > 0 and s["decisions"]["lm_requests"] > 0 for s in phrase)
    autopilot = [s for s in sets if s["cell"]["brain"] == "autopilot"]
    assert all(s["decisions"]["lm_requests"] == 0 and s["decisions"]["moves"] > 0 for s in autopilot)
    moves = [s["decisions"]["moves"] for s in autopilot]
    figure = jobs["groups"][0]["figures"]["moves"]
    assert figure["n"] == 2 and figure["mean"] == pytest.approx(sum(moves) / 2)
    assert figure["low"] <= figure["mean"] <= figure["high"]

    one = sets[-1]  # each set is a set like any other: it verifies and re-renders to its WAV
    assert replay.verify(local / one["log"], warn=lambda m: None).verified
    assert main(["replay", str(local / one["log"]), "--wav", str(tmp_path / "again.wav")]) == 0
    assert sha256(tmp_path / "again.wav") == one["wav_sha256"]

    code, again, err = evaluate(capsys, *GRID, "--briefs", str(briefs), "--out", str(local))
    assert code == 0 and "evaluate: 4 of 4 sets already done" in err and again == jobs

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        on_cluster = ["--out", str(tmp_path / "cluster"), "--cluster", cluster.scheduler_address]
        code, clustered, err = evaluate(capsys, *GRID, "--briefs", str(briefs), *on_cluster)
    assert code == 0, err[-2000:]
    assert clustered == jobs  # figures, decisions, WAV checksums: where a set ran changes nothing


@pytest.mark.timeout(600)
def test_whatif_over_logged_sets_aggregates_the_changes(tmp_path, capsys):
    logs = [str(CORPUS / "phrase-scripted.bgnlog"), str(CORPUS / "autopilot.bgnlog")]
    whatif = ["--whatif", *logs, "--swap", "conductor=autopilot", "--out", str(tmp_path)]
    code, result, err = evaluate(capsys, *whatif)
    assert code == 0, err[-2000:]
    summary, (phrase, autopilot) = result["summary"], result["sets"]
    assert result["swaps"] == {"conductor": "autopilot"} and summary["sets"] == 2
    assert phrase["first_divergent_bar"] >= 0 and autopilot["first_divergent_bar"] == -1
    assert summary["diverged"] == 1 and summary["first_divergent_bar"]["mean"] == phrase["first_divergent_bar"]
    assert autopilot["what_if"] == autopilot["original"]  # the same plans played: the same music, measured alike
    for s in (phrase, autopilot):
        assert replay.verify(tmp_path / s["new_log"], warn=lambda m: None).verified
    deltas = [s["what_if"]["combinations"] - s["original"]["combinations"] for s in (phrase, autopilot)]
    assert summary["change"]["combinations"]["mean"] == pytest.approx(sum(deltas) / 2)
    code, again, err = evaluate(capsys, *whatif)
    assert code == 0 and "2 of 2 what-ifs already done" in err and again == result
    cut = tmp_path / "cut.bgnlog"
    cut.write_bytes((CORPUS / "autopilot.bgnlog").read_bytes()[:-3])
    code, _, err = evaluate(capsys, "--whatif", logs[0], str(cut), "--swap", "critic=none", "--out", f"{tmp_path}/o")
    assert code == 4 and err.startswith(f"bergain-actors: {cut}: torn tail at byte"), err  # as replay --swap says
    assert "a what-if plays whole sets only" in err and not (tmp_path / "o").exists()  # before: exit 1, 'failed'
