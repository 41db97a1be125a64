"""The device worker's queue: bars are reported taken at the margin, and silence is counted where it happens."""

from __future__ import annotations

import queue

import numpy as np

from bergain_actors.actors.streamer.device_worker import OVERRUN_CALLBACKS, Fifo


def bar(frames: int, value: float) -> np.ndarray:
    return np.full((frames, 2), value, np.float32)


def drain(reports: queue.SimpleQueue) -> list[dict]:
    out = []
    while not reports.empty():
        out.append(reports.get())
    return out


def test_bars_are_taken_in_order_and_dry_spells_are_counted_once():
    reports: queue.SimpleQueue = queue.SimpleQueue()
    fifo = Fifo(margin=16, report=reports)
    out = np.empty((64, 2), np.float32)
    fifo.fill(out, flagged=False)  # before the first bar: waiting, not an underflow
    assert not out.any() and fifo.underflows == 0
    fifo.push(bar(100, 0.5), 0)
    fifo.push(bar(100, 0.25), 1)
    fifo.fill(out, flagged=False)
    assert (out == 0.5).all() and drain(reports) == []
    fifo.fill(out, flagged=False)  # 128 frames out: bar 0 has 0 left, bar 1 has 72 left
    assert (out[:36] == 0.5).all() and (out[36:] == 0.25).all()
    assert drain(reports) == [{"took": 0, "underflows": 0, "xruns": 0, "server_xruns": 0, "silent": 0}]
    fifo.fill(out, flagged=False)  # 192 out: bar 1 has 8 left (< margin)
    assert drain(reports) == [{"took": 1, "underflows": 0, "xruns": 0, "server_xruns": 0, "silent": 0}]
    fifo.fill(out, flagged=False)  # 8 frames of audio, then 56 of silence
    assert (out[:8] == 0.25).all() and not out[8:].any()
    fifo.ran(0.02, period=0.03)  # a callback of ours ran past half its period
    fifo.fill(out, flagged=True)  # still dry (one spell), and PortAudio flagged an xrun: ours
    fifo.push(bar(128, 1.0), 2)
    fifo.fill(out, flagged=False)
    assert (out == 1.0).all()
    fifo.fill(out, flagged=False)
    assert drain(reports) == [{"took": 2, "underflows": 2, "xruns": 1, "server_xruns": 0, "silent": 56 + 64}]


def test_an_xrun_flag_is_ours_only_soon_after_a_callback_of_ours_overran():
    reports: queue.SimpleQueue = queue.SimpleQueue()
    fifo = Fifo(margin=0, report=reports)
    fifo.push(bar(64 * 40, 0.5), 0)
    out = np.empty((64, 2), np.float32)
    period = 64 / 48000
    fifo.ran(0.4 * period, period)  # within half its period: in time
    fifo.fill(out, flagged=True)  # the server's own xrun (audio queued, our callbacks in time)
    fifo.ran(0.6 * period, period)  # overran half its period
    fifo.fill(out, flagged=False)
    fifo.fill(out, flagged=True)  # a flag soon after: ours
    for _ in range(OVERRUN_CALLBACKS):
        fifo.fill(out, flagged=False)
    fifo.fill(out, flagged=True)  # long after it: the server's again
    while fifo.queued:
        fifo.fill(out, flagged=False)
    assert drain(reports) == [{"took": 0, "underflows": 1, "xruns": 1, "server_xruns": 2, "silent": 0}]


def test_the_summary_tells_the_servers_own_xruns_apart_from_underflows():
    from bergain_actors.core import events as ev
    from bergain_actors.core.summary import Summary
    from bergain_actors.display.narrate import Narrator

    summary = Summary()
    for event in (
        ev.AudioUnderflow(bar=3, count=2, xruns=1, silent_ms=40.0),  # a dry spell and a flag of ours in one bar
        ev.AudioUnderflow(bar=9, count=1, xruns=1),  # a flag of ours alone: audio was still queued
        ev.AudioUnderflow(bar=12, count=0, server_xruns=2),  # the server's own: our audio was there, in time
    ):
        summary.add(event)
    (line,) = [line for line in summary.lines() if "underflows" in line]
    assert "underflows 3 (2 xruns: a callback of ours late)" in line
    assert "   server xruns 2 (not ours: audio ready, callback quick)   late bars 1 (0.0 s of silence)" in line
    assert (summary.underflows, summary.xruns, summary.server_xruns) == (3, 2, 2)
    # the play-by-play says it too, never as an underflow
    assert Narrator().lines(ev.AudioUnderflow(bar=12, count=0, server_xruns=2)) == [
        "bar   12 · 2 audio server xrun(s), not ours"
    ]


def test_jackds_log_tells_its_own_xruns_from_a_late_client(tmp_path):
    from bergain_actors.actors.streamer.jack_server import JackServer

    server = JackServer("never-started", 48000, realtime=False)
    server.log.write_text(  # lines as jackd 1.9.21 writes them
        "JACK server starting in realtime mode with priority 70\n"
        "JackTimedDriver::Process XRun = 8 usec\n"
        "JackEngine::XRun: client = PortAudio was not finished, state = Triggered\n"
        "JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"
        "JackEngine::XRun: client = PortAudio was not finished, state = Triggered\n"
        "JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"
        "JackEngine::XRun: client jack_rec finished after current callback\n"
    )
    try:
        assert server.xruns() == {
            "server": 1,
            "client PortAudio after server": 1,  # the cycle after the server's own xrun starts at once
            "client PortAudio": 1,
            "client jack_rec": 1,
        }
        assert server.argv[:2] == ["jackd", "--no-realtime"]
    finally:
        server.close()
