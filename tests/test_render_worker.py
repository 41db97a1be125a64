"""The render worker (an offline set's renderer in a child process): the same bytes as rendering in the set's own
process, and when it dies or hangs mid-set, the set renders on in its own process, says so, and still writes the
same bytes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from bergain_actors.actors.streamer import sinks
from bergain_actors.actors.streamer.render_worker import RenderWorker, WorkerLost
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.fatal import SetCannotContinue
from bergain_actors.core.log import LogReader
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.music.render import Mastering
from bergain_actors.performance import SetResult, perform, set_paths
from tests.conftest import make_scenario

AUTOPILOT = Path(__file__).resolve().parent.parent / "scenarios" / "autopilot.toml"

BARS = 24
TWO_CORES = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="needs two cores: on one, a set renders in its own process (no worker)"
)


def play(out: Path, *, worker: bool, at_bar: int = -1, signal_number: int = 0) -> tuple[SetResult, bytes]:
    """A set of ``BARS`` bars; with ``signal_number``, the worker gets it once bar ``at_bar`` has played (a stopped
    worker is given up on after 2 s of silence)."""
    scenario = make_scenario(out, bars=BARS)
    log_path, wav_path = set_paths(scenario, out, stamp="set")
    sets: list[Supervisor] = []

    def tap(event: ev.Event) -> None:
        worker_now = sets[0].set.render_worker if sets else None
        if isinstance(event, ev.BarPlayed) and event.bar == at_bar and worker_now is not None:
            worker_now.SILENCE_S = 2.0
            os.kill(worker_now.process.pid, signal_number)

    async def main() -> SetResult:
        with trio.fail_after(120):
            return await perform(
                scenario,
                "",
                log_path=log_path,
                wav_path=wav_path,
                keep_events=True,
                on_event=tap,
                before_start=sets.append,
                render_worker=worker,
            )

    result = trio.run(main)
    return result, wav_path.read_bytes()


def comparable(result: SetResult) -> list[dict]:
    """What the set did, without the worker's loss (an event the in-process set has not) and the seqs it shifts."""
    kept = [e for e in result.events if not isinstance(e, ev.RenderWorkerLost)]
    return [{k: v for k, v in ev.comparable(e).items() if k not in ("seq", "plan_seq", "cause")} for e in kept]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> tuple[SetResult, bytes]:
    return play(tmp_path_factory.mktemp("in-process"), worker=False)


@TWO_CORES
def test_the_worker_renders_the_same_bytes(in_process, tmp_path):
    expected, wav = in_process
    result, worker_wav = play(tmp_path, worker=True)
    assert result.render_worker is not None  # a worker rendered it (and ended: its usage was taken)
    assert result.render_worker.ru_utime > 0 and result.render_worker.ru_maxrss > 0
    assert expected.render_worker is None
    assert [e for e in result.events if isinstance(e, ev.RenderWorkerLost)] == []
    assert comparable(result) == comparable(expected)
    played = [e for e in result.events if isinstance(e, ev.BarPlayed)]
    assert len(played) == BARS and all(e.heard is not None and e.checksum >= 0 for e in played)
    assert worker_wav == wav


@TWO_CORES
@pytest.mark.parametrize(("number", "why"), [(signal.SIGKILL, "exited"), (signal.SIGSTOP, "said nothing")])
def test_a_worker_lost_mid_set_is_said_and_the_set_renders_on_the_same(in_process, tmp_path, number, why):
    expected, wav = in_process
    result, lost_wav = play(tmp_path, worker=True, at_bar=8, signal_number=number)
    (lost,) = [e for e in result.events if isinstance(e, ev.RenderWorkerLost)]
    assert why in lost.reason
    assert 9 <= lost.bar < BARS  # after the bars it had rendered ahead, before the set's end
    assert any("render worker lost" in line for line in result.summary.device_losses)
    assert comparable(result) == comparable(expected)
    assert lost_wav == wav
    assert result.render_worker is not None  # the worker was reaped, not left behind
    assert main(["replay", str(result.log_path), "--verify"]) == 0
    assert main(["replay", str(result.log_path), "--wav", str(tmp_path / "replayed.wav")]) == 0
    assert (tmp_path / "replayed.wav").read_bytes() == wav


@TWO_CORES
def test_a_plan_the_worker_cannot_take_after_a_bar_is_played_renders_on_the_same(in_process, tmp_path, monkeypatch):
    """The plan a ``BarPlayed`` makes goes to the worker before that bar's WAV is written; a worker lost there is
    replaced from the bar after the one just played (rendered again up to it), the same bytes."""
    send, refused = RenderWorker.send, []

    def refuse_bar_10(self, bar, plan):
        if bar == 10 and not refused:
            refused.append(bar)
            raise WorkerLost("injected: the pipe is gone")
        return send(self, bar, plan)

    monkeypatch.setattr(RenderWorker, "send", refuse_bar_10)
    expected, wav = in_process
    result, lost_wav = play(tmp_path, worker=True)
    (lost,) = [e for e in result.events if isinstance(e, ev.RenderWorkerLost)]
    assert refused == [10] and lost.bar == 9 and "injected" in lost.reason  # bar 10's plan: made as bar 8 played
    assert comparable(result) == comparable(expected)
    assert lost_wav == wav


@TWO_CORES
def test_a_worker_lost_before_it_has_the_pack_is_said_and_the_set_renders_here(in_process, tmp_path, monkeypatch):
    """Gone before the set's first bar (it cannot take the pack): not only a warning, the event and the summary's
    line a worker lost mid-set gets, and the same bytes."""

    def gone(self, pack, bpm, beats):
        raise WorkerLost("injected: the worker is gone before the pack")

    monkeypatch.setattr(RenderWorker, "share", gone)
    expected, wav = in_process
    result, here_wav = play(tmp_path, worker=True)
    (lost,) = [e for e in result.events if isinstance(e, ev.RenderWorkerLost)]
    assert lost.bar == 0 and "injected" in lost.reason
    assert any("render worker lost" in line for line in result.summary.device_losses)
    assert comparable(result) == comparable(expected)
    assert here_wav == wav
    assert main(["replay", str(result.log_path), "--verify"]) == 0


async def test_a_set_paced_by_a_clock_renders_in_its_own_process(autojump_clock, tmp_path):
    scenario = make_scenario(tmp_path, bars=4)
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="set")
    sink = ClockSink(scenario.sample_rate)
    result = await perform(scenario, "", log_path=log_path, wav_path=wav_path, sink=sink, render_worker=True)
    assert result.render_worker is None
    assert result.summary.bars_played == 4


@TWO_CORES
def test_a_streamer_restarted_mid_bar_holds_it_rendered_here(tmp_path, monkeypatch):
    """The worker rendered the bar's own plan; the restarted streamer holds the last one, so it renders that here."""
    failures = iter([True])
    finish = Mastering.finish

    def crash_once(self, out, bar, *skipped):
        if bar == 5 and next(failures, False):
            raise RuntimeError("injected")
        return finish(self, out, bar, *skipped)

    monkeypatch.setattr(Mastering, "finish", crash_once)
    result, wav = play(tmp_path, worker=True)
    (lost,) = [e for e in result.events if isinstance(e, ev.RenderWorkerLost)]
    assert lost.bar == 5 and "restarted mid-bar" in lost.reason
    played = [e for e in result.events if isinstance(e, ev.BarPlayed)]
    assert [e.bar for e in played] == list(range(BARS)) and played[5].held
    assert len(wav) == 44 + 4 * round(BARS * 82687.5)  # every bar in the WAV (128 BPM: 82687.5 frames a bar)


def test_on_one_core_the_set_renders_in_its_own_process(tmp_path):
    """Two processes on one core would do the same work and switch between them: no worker there (``run`` says)."""
    one = min(os.sched_getaffinity(0))
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(AUTOPILOT), "--bars", "4", "--fast", "--no-audio"]
    argv += ["--no-report", "--out", str(tmp_path)]
    pinned = lambda: os.sched_setaffinity(0, {one})  # noqa: E731
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=pinned)
    assert done.returncode == 0, done.stderr
    assert "processes    this one" in done.stdout and "render worker" not in done.stdout.split("processes")[1]
    assert "one core to run on" in done.stderr


@TWO_CORES
def test_a_wav_write_refused_stops_the_set_at_that_bar(tmp_path, monkeypatch):
    """With a worker the set writes the WAV itself, at once: a write the disk refuses stops the set at that bar,
    saying why; the log has the bar (logged first), the WAV the bars before it; the worker is ended."""
    real, calls = sinks._write_all, [0]

    def full_at_bar_4(fd, data):
        calls[0] += 1
        if calls[0] == 1 + 5:  # the header, then bars 0-3, then bar 4
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(sinks, "_write_all", full_at_bar_4)
    with pytest.raises(SetCannotContinue, match="No space left on device"):
        play(tmp_path, worker=True)
    (log,) = tmp_path.glob("*.bgnlog")
    assert [e.bar for e in LogReader(log) if isinstance(e, ev.BarPlayed)] == list(range(5))
    (wav,) = tmp_path.glob("*.wav")
    assert wav.stat().st_size == 44 + 4 * round(4 * 82687.5)
