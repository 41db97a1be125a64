"""Live through a lossy network: a seeded proxy drops 5 % of datagrams each way between us and the AbletonOSC peer
(Live-like 100 ms tick). Every write is confirmed or idempotent, so the bars come out as planned; a bar that does
not is an event; set-up leaves no orphan track."""

from __future__ import annotations

import pytest

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from tests.ableton_peer import free_udp_port, peer_factory  # noqa: F401 - the fixture
from tests.ableton_sets import ableton_scenario, bars_exact, live_tracks, play, wait_for_peer
from tests.lossy_udp import LossyProxy

pytestmark = pytest.mark.timeout(400)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_five_percent_loss_each_way_bars_exact_or_reported_and_no_orphan_track(peer_factory, tmp_path):  # noqa: F811
    peer = peer_factory(tick_ms=100, clock_ms=10)
    proxy = LossyProxy(peer.port, peer.reply_port, drop=0.05, seed=3).start()
    bars = 12
    try:
        scenario = ableton_scenario(
            tmp_path, None, port=proxy.port, reply_port=free_udp_port(), bars=bars, bpm=120, seed=3
        )
        result = play(scenario, tmp_path)
        statuses = of(result.events, ev.AbletonStatus)
        tracks = statuses[0].tracks
        events = wait_for_peer(peer, tracks)
        names = live_tracks(proxy.port)
    finally:
        proxy.stop()
    assert proxy.dropped["to_live"] > 0 and proxy.dropped["to_us"] > 0, proxy.dropped  # the loss was real
    assert [s.state for s in statuses] == ["connected"], statuses  # no loss cost a re-setup
    origin = of(result.events, ev.LiveBeat)[-1].origin
    exact = bars_exact(result, scenario, events, tracks, origin, range(bars))
    off = {e.bar for e in of(result.events, ev.LiveBarOff)}
    assert set(range(bars)) - set(exact) <= off, (exact, off)  # every bar not as planned is an event
    assert len(exact) >= bars - 1, (exact, off)
    assert result.summary.live_bars_off == off
    wanted = [getattr(scenario.ableton.tracks, role) for role in ("drums", "bass", "chords", "stab", "texture")]
    assert names == ["1-MIDI", "2-MIDI", "3-Audio", "4-Audio", *wanted], names  # no orphan track
    assert main(["replay", str(result.log_path), "--verify"]) == 0
