"""Live through a lossy network: a seeded proxy drops 5 % of datagrams each way between us and the AbletonOSC peer
(Live-like 100 ms tick). Every write is confirmed or idempotent, so the bars come out as planned; a bar that does
not is an event; set-up leaves no orphan track."""

from __future__ import annotations

import pytest

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from tests.ableton_peer import peer_factory  # noqa: F401 - the fixture
from tests.ableton_sets import lossy_run

pytestmark = pytest.mark.timeout(400)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_five_percent_loss_each_way_bars_exact_or_reported_and_no_orphan_track(peer_factory, tmp_path):  # noqa: F811
    peer = peer_factory(tick_ms=100, clock_ms=10)
    bars = 12
    run, proxy = lossy_run(tmp_path, peer, bars=bars, seed=3, drop=0.05)
    assert proxy.dropped["to_live"] > 0 and proxy.dropped["to_us"] > 0, proxy.dropped  # the loss was real
    statuses = of(run.result.events, ev.AbletonStatus)
    assert [s.state for s in statuses] == ["connected"], statuses  # no loss cost a re-setup
    exact = run.exact(range(bars))
    off = {e.bar for e in of(run.result.events, ev.LiveBarOff)}
    assert set(range(bars)) - set(exact) <= off, (exact, off)  # every bar not as planned is an event
    assert len(exact) >= bars - 2, (exact, off)  # (the bench: >= 30 of 32 over 5 seeds)
    assert run.result.summary.live_bars_off == off
    wanted = [getattr(run.scenario.ableton.tracks, role) for role in ("drums", "bass", "chords", "stab", "texture")]
    assert run.names == ["1-MIDI", "2-MIDI", "3-Audio", "4-Audio", *wanted], run.names  # no orphan track
    assert main(["replay", str(run.result.log_path), "--verify"]) == 0
