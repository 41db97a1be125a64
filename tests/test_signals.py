"""However a set ends (stop, Ctrl-C, SIGTERM, SIGKILL), its WAV holds no bar its log lacks, and `replay --wav`
gives the run's audio back. Real child processes, real signals; waits are on the child's output, with deadlines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from bergain_actors.actors.streamer.sinks import ClockSink, WavBehind
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.performance import perform
from tests.conftest import AUTOPILOT
from tests.test_interrupt import lines_until


def wav_data(path: Path) -> bytes:
    """The sample bytes of a WAV, whatever its header says (a killed writer never finished it)."""
    raw = path.read_bytes()
    at = raw.index(b"data", 12)
    return raw[at + 8 :]


def start_set(out: Path) -> subprocess.Popen:
    """A long offline set (it cannot end by itself before the test signals it)."""
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(AUTOPILOT), "--no-audio", "--minutes", "600"]
    argv += ["--no-report", "--out", str(out), "--log-format", "json"]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_after_bar(process: subprocess.Popen, sig: int, bar: int) -> str:
    """Send ``sig`` once the console shows bar ``bar`` or later; the child's whole stderr."""
    seen: list[str] = []
    try:
        lines = lines_until(process, 120)
        for line in lines:
            seen.append(line)
            if line.startswith("{") and json.loads(line).get("bar", -1) >= bar:
                process.send_signal(sig)
                break
        else:
            raise AssertionError(f"the set ended before bar {bar}: {seen[-5:]}")
        if sig != signal.SIGKILL:
            seen.extend(lines)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return "".join(seen)


def replayed(log: Path, out: Path, *flags: str) -> bytes:
    assert main(["replay", str(log), "--wav", str(out), *flags]) == 0
    return out.read_bytes()


@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_and_sigterm_end_the_log_and_the_wav_together(tmp_path, sig, code, said):
    process = start_set(tmp_path)
    err = signal_after_bar(process, sig, 24)
    assert process.returncode == code, err[-2000:]
    assert said in err
    (log,) = tmp_path.glob("*.bgnlog")
    (wav,) = tmp_path.glob("*.wav")
    _, events, problem = read_all(log)
    assert problem is None
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "interrupted"
    assert events[-1].bars_played >= 16
    assert replayed(log, tmp_path / "replayed.wav") == wav.read_bytes()


def test_sigkill_leaves_no_bar_in_the_wav_that_the_log_lacks(tmp_path):
    process = start_set(tmp_path)
    signal_after_bar(process, signal.SIGKILL, 64)
    assert process.returncode == -signal.SIGKILL
    (log,) = tmp_path.glob("*.bgnlog")
    (wav,) = tmp_path.glob("*.wav")
    assert main(["replay", str(log), "--wav", str(tmp_path / "strict.wav")]) == 4  # no SetEnded: incomplete
    replayed(log, tmp_path / "replayed.wav", "--allow-partial")
    logged, played = wav_data(tmp_path / "replayed.wav"), wav_data(wav)
    bars = sum(1 for e in read_all(log)[1] if isinstance(e, ev.BarPlayed))
    assert bars >= 32 and played
    assert len(played) <= len(logged), "the WAV holds audio the log never recorded"
    assert logged[: len(played)] == played
    # the WAV is written behind the log (sinks.WavBehind): a kill loses its queue, the bar being written and the
    # bar being logged from the WAV, never from the log (replay --allow-partial renders them)
    assert len(logged) - len(played) <= (WavBehind.DEPTH + 2) * len(logged) // bars


async def test_stop_now_ends_log_and_wav_on_the_same_bar(scenario_factory, tmp_path, autojump_clock):
    scenario = scenario_factory(bars=400)
    sixteen_in = trio.Event()

    def bars(event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed) and event.bar == 15:
            sixteen_in.set()

    async def person(desk) -> None:
        await sixteen_in.wait()
        desk.submit("stop now")

    sink = ClockSink(scenario.sample_rate)
    result = await perform(
        scenario,
        "",
        log_path=tmp_path / "s.bgnlog",
        wav_path=tmp_path / "s.wav",
        sink=sink,
        controls=person,
        on_event=bars,
    )
    _, events, _ = read_all(result.log_path)
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "stopped"
    assert 8 < events[-1].bars_played < 400
    assert replayed(result.log_path, tmp_path / "r.wav") == result.wav_path.read_bytes()
