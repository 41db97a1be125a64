"""Sets played into Ableton Live (the real AbletonOSC on the simulated Live): clips launched on their bars, the
notes Live played equal to the plan, the clock Live's, replays with no Live."""

from __future__ import annotations

import pytest

from bergain_actors import replay
from bergain_actors.core import events as ev
from tests.ableton_peer import peer_factory  # noqa: F401 - the fixture
from tests.ableton_sets import ableton_scenario, expected_notes, match_notes, play, played_notes, wait_for_peer

pytestmark = pytest.mark.timeout(300)


def of(result, kind):
    return [e for e in result.events if isinstance(e, kind)]


@pytest.mark.parametrize("fork", [False, True], ids=["upstream", "fork"])
def test_a_live_mode_set_plays_the_planned_notes_on_the_planned_bars(peer_factory, tmp_path, fork):  # noqa: F811
    peer = peer_factory(fork=fork, tick_ms=20, clock_ms=10)
    bars = 32 if not fork else 16
    scenario = ableton_scenario(tmp_path, peer, bars=bars)
    result = play(scenario, tmp_path)

    statuses = of(result, ev.AbletonStatus)
    assert [s.state for s in statuses] == ["connected"], statuses
    tracks = statuses[0].tracks
    assert sorted(tracks) == ["bass", "chords", "drums", "stab", "texture"]
    if fork:
        assert "loaded drums: " in statuses[0].detail and "load by hand" not in statuses[0].detail
    else:
        assert "load by hand drums: 909 Core Kit" in statuses[0].detail
    played = of(result, ev.BarPlayed)
    assert [b.bar for b in played] == list(range(bars)) and not any(b.held for b in played)
    origin = of(result, ev.LiveBeat)[-1].origin

    events = wait_for_peer(peer, (origin + bars) * 4 + 0.5)
    launches = [(e["track"], e["slot"], e["song_time"]) for e in events if e["event"] == "clip_launched"]
    fired = of(result, ev.ClipFired)
    assert len(fired) >= len(tracks)  # every track got at least its first clip
    for clip in fired:
        assert clip.live_bar == origin + clip.bar - 1, clip
        if clip.slot >= 0:
            assert (clip.track, clip.slot, float((origin + clip.bar) * 4)) in launches, clip
    assert not of(result, ev.ClipLate)

    expected = expected_notes(result, scenario, origin, range(bars))
    heard = played_notes(events, tracks, origin * 4, (origin + bars) * 4)
    assert len(expected) > 10 * bars
    missing, extra = match_notes(expected, heard, step=0.24)
    assert (missing, extra) == ([], []), (missing, extra)

    checked, problem = replay.verify(result.log_path, lambda m: None)
    assert problem is None and checked > 0
