"""Playing to a real audio server: JACK's dummy driver paces the set like speakers would."""

from __future__ import annotations

import os
import time

import pytest
import soundfile as sf
import trio

from bergain_actors.actors.streamer.sinks import DeviceSink
from bergain_actors.core import events as ev
from bergain_actors.music.render import Renderer
from bergain_actors.performance import choose_sink, perform, set_paths

pytestmark = pytest.mark.audio


async def test_set_plays_on_the_device_with_backpressure(jack_server, scenario_factory, tmp_path):
    scenario = scenario_factory(bars=4, bpm=200)
    sink, detail = choose_sink(scenario, fast=False, no_audio=False)
    assert isinstance(sink, DeviceSink), detail
    assert detail.startswith("playing on system at 44100 Hz, the device worker at "), detail
    pid = sink._worker.process.pid
    got, callback = detail.split(", the device worker at ", 1)[1].split(", its audio callback at ")
    if got.startswith("SCHED_FIFO"):  # root, or an rtprio limit: the worker really runs in real time
        assert os.sched_getscheduler(pid) == os.SCHED_FIFO
        assert got == f"SCHED_FIFO {os.sched_getparam(pid).sched_priority}"
    else:
        assert got.startswith(f"nice {os.getpriority(os.PRIO_PROCESS, pid)}"), got
    # the callback's own thread (libjack's, not one of ours) runs as said: some thread of the worker has it
    threads = {
        (os.sched_getscheduler(int(t)), os.sched_getparam(int(t)).sched_priority)
        for t in os.listdir(f"/proc/{pid}/task")
    }
    if callback.startswith("SCHED_FIFO"):
        assert (os.SCHED_FIFO, int(callback.split()[1])) in threads, (callback, threads)
    else:
        assert callback.startswith("SCHED_OTHER"), callback
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="jack")
    start = trio.current_time()
    result = await perform(
        scenario, "", log_path=log_path, wav_path=wav_path, sink=sink, audio_detail=detail, keep_events=True
    )
    elapsed = trio.current_time() - start
    started = next(e for e in result.events if isinstance(e, ev.AudioStarted))
    assert started.device == "system"
    assert [e.bar for e in result.events if isinstance(e, ev.BarPlayed)] == [0, 1, 2, 3]
    assert result.summary.underflows == sum(e.count for e in result.events if isinstance(e, ev.AudioUnderflow))
    # the device, not a sleep, set the pace: the last bar cannot be taken before three bars have sounded
    bar_seconds = 4 * 60 / 200
    assert elapsed >= 3 * bar_seconds
    assert sf.info(wav_path).frames == round(4 * bar_seconds * 44100)


SLOW_BAR, SLOW_S = 2, 1.2
"""A bar that takes longer to render than the device's margin (a new section's cold loops on a starved machine)."""


async def test_a_bar_slow_to_render_leaves_no_gap_and_the_worker_leaves_cleanly(
    jack48, scenario_factory, tmp_path, monkeypatch
):
    assert DeviceSink.MARGIN < SLOW_S < 2.0  # slower than the margin, faster than a bar at 120 BPM
    render = Renderer.render

    def slowly(self, plan):
        if plan.bar == SLOW_BAR:
            time.sleep(SLOW_S)  # the stimulus: this bar's render takes that long
        return render(self, plan)

    monkeypatch.setattr(Renderer, "render", slowly)
    scenario = scenario_factory(bars=5, bpm=120, sample_rate=48000)
    sink, detail = choose_sink(scenario, fast=False, no_audio=False)
    assert isinstance(sink, DeviceSink), detail
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="slow")
    result = await perform(
        scenario, "", log_path=log_path, wav_path=wav_path, sink=sink, audio_detail=detail, keep_events=True
    )
    assert [e.bar for e in result.events if isinstance(e, ev.BarPlayed) and not e.held] == [0, 1, 2, 3, 4]
    # the slow bar rendered while the one before it played: the device never ran dry (a flag alone is an xrun
    # notice from the server, told apart below)
    dry = [e for e in result.events if isinstance(e, ev.AudioUnderflow) and (e.count > e.xruns or e.silent_ms)]
    assert dry == []
    # nor did our callback overrun its period (an xrun flag after one is ours); a flag without one is the host's
    # late wake, which jackd's log may also pin on a client writing silence (bench/bench_jack_control.py)
    ours = [e for e in result.events if isinstance(e, ev.AudioUnderflow) and e.count]
    assert ours == [], (ours, jack48.server.log.read_text()[-800:])
    jack48.server.stop()  # the server's log is complete once it has exited
    # every time jackd found our client late, the set said so (a flag: its xrun or the server's, never unsaid)
    flags = sum(e.xruns + e.server_xruns for e in result.events if isinstance(e, ev.AudioUnderflow))
    assert jack48.server.xruns()["client PortAudio"] <= flags, jack48.server.log.read_text()[-800:]


def test_no_audio_and_fast_never_open_a_device(scenario_factory):
    scenario = scenario_factory()
    for kwargs in ({"fast": True, "no_audio": False}, {"fast": False, "no_audio": True}):
        sink, detail = choose_sink(scenario, **kwargs)
        assert not sink.live and "WAV" in detail
