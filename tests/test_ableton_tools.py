"""The rlm brain's Live tools in a set played into the real AbletonOSC (upstream and the smithclay fork) on the
simulated Live: a scripted program creates a track, loads an instrument through the browser, sets a parameter,
mixes, writes a clip, fires a scene and changes the tempo; Live's state shows each; every guardrail refuses with
its reason; the set replays with no Live."""

from __future__ import annotations

import json

import pytest
import trio

from bergain_actors.actors.ableton.osc import OscClient
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from tests.ableton_peer import peer_factory  # noqa: F401 - the fixture
from tests.ableton_sets import ableton_scenario, play, wait_for_peer

pytestmark = pytest.mark.timeout(300)

STEP_1 = """
[[ ## reasoning ## ]]
I read Live, try what the set's own tracks do not allow, then build a lead of my own and launch it.

[[ ## code ## ]]
```python
s = live_status()
for i in range(8):
    if isinstance(s, dict):
        break
    play(1)
    s = live_status()
print("tracks", [t["name"] for t in s["tracks"]], "browser", s["browser"])
print("own mix:", live_mix("drums", volume=0.2))
print("own delete:", live_delete_track("bass"))
print("own load:", live_load("drums", "Operator"))
print("transport:", live_stop())
print("ring scene:", live_fire_scene(1))
print("create:", live_create_track("lead"))
print("browse:", live_browse("instruments"))
print("load:", live_load("lead", "Drift"))
print("params:", live_params("lead", 0))
print("set_param:", live_set_param("lead", 0, 1, 99.0))
print("mix:", live_mix("lead", volume=0.6, pan=-0.3))
print("clip:", live_write_clip("lead", 4, [[60, 0, 1, 100], [63, 1, 1, 90], [67, 2, 2, 80]], 1, "rlm lead"))
print("scene:", live_fire_scene(4))
print("tempo:", live_tempo(176))
```

[[ ## completed ## ]]
"""

STEP_2 = """
[[ ## reasoning ## ]]
A new phrase: now the tempo may move.

[[ ## code ## ]]
```python
s = play(16)
print("tempo:", live_tempo(176))
SUBMIT(status="built a lead in Live")
```

[[ ## completed ## ]]
"""


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def tool_answers(events) -> dict[str, list]:
    calls = {c.call_id: c for c in of(events, ev.ToolCall)}
    out: dict[str, list] = {}
    for result in of(events, ev.ToolResult):
        out.setdefault(calls[result.call_id].tool, []).append(result.value)
    return out


def rlm_set(tmp_path, peer, bars: int):
    script = tmp_path / "program.json"
    script.write_text(json.dumps({"rlm": [STEP_1, STEP_2]}))
    provider = {"name": "scripted", "kind": "scripted", "script": str(script), "cycle": False}
    return ableton_scenario(
        tmp_path,
        peer,
        bars=bars,
        conductor={"kind": "rlm", "fallback": [], "max_iters": 4, "sandbox_timeout_s": 5.0},
        router={"providers": [provider]},
    )


async def _live_state(peer, track: int) -> dict:
    async with OscClient("127.0.0.1", peer.port, peer.reply_port, timeout=2.0) as osc:
        (name,) = await osc.query("/live/track/get/name", track)
        devices = await osc.query("/live/track/get/devices/name", track)
        (volume,) = await osc.query("/live/track/get/volume", track)
        (pan,) = await osc.query("/live/track/get/panning", track)
        (tempo,) = await osc.query("/live/song/get/tempo")
        shape = await osc.query("/live/device/get/parameter/value", track, 0, 1) if devices else (None,)
    return {"name": name, "devices": devices, "volume": volume, "pan": pan, "tempo": tempo, "shape": shape[0]}


@pytest.mark.parametrize("fork", [True, False], ids=["fork", "upstream"])
def test_the_rlm_program_plays_live_through_its_tools_within_the_guardrails(peer_factory, tmp_path, fork):  # noqa: F811
    peer = peer_factory(tick_ms=20, clock_ms=10, fork=fork)
    bars = 28
    result = play(rlm_set(tmp_path, peer, bars), tmp_path)
    events = result.events
    answers = tool_answers(events)
    lead = 9  # the peer's default set has four tracks, the set adds five, the program one

    # every guardrail refuses, saying why
    assert answers["live_mix"][0] == (
        "refused: track 4 'drums' is the set's own drums track: the set's mixer rides its fader (use fader() on a role)"
    )
    assert answers["live_delete_track"] == ["refused: track 5 'bass' is the set's own bass track: it is never deleted"]
    assert answers["live_stop"][0].startswith("refused: Live's transport never stops mid-set")
    assert answers["live_fire_scene"][0] == "refused: scenes 0..3 hold the set's clip ring; use a scene from 4 on"
    glide = "ok: tempo glides from 180 to 176 BPM over 2 bars"
    if fork:  # six operations went before it in the phrase: the next phrase allows it
        assert answers["live_tempo"] == ["refused: 6 operations on Live this phrase is the limit; play() on", glide]
    else:  # four did (nothing to load): allowed at once, and asking again changes nothing
        assert answers["live_tempo"][0] == glide and answers["live_tempo"][1].startswith("unchanged: the tempo is")
    assert answers["live_create_track"] == ["done: created MIDI track 9 'lead'"]
    assert answers["live_mix"][1] == "done: track 9: volume 0.6, pan -0.3"
    assert answers["live_write_clip"] == ["done: wrote 3 notes into track 9 slot 4 (4 beats)"]
    assert answers["live_fire_scene"][1].startswith("done: fired scene 4")
    ops = of(events, ev.AbletonOp)
    done = {d.op_id: d for d in of(events, ev.AbletonOpDone)}
    if fork:
        assert answers["live_load"] == [
            "refused: track 4 'drums' is the set's own drums track: it keeps its instrument and notes",
            "done: loaded Drift on track 9",
        ]
        assert answers["live_set_param"] == ["done: track 9 device 0 parameter 1 is 1 (clamped 99 to 1 (0..1))"]
        assert [o.op for o in ops] == ["create_track", "load", "set_param", "mix", "write_clip", "fire_scene"]
        assert all(done[o.op_id].status == "done" for o in ops)
    else:  # upstream: no browser, so nothing to load and no device to set; a refusal, not a crash
        no_browser = "refused: this AbletonOSC has no browser API (upstream AbletonOSC)"
        assert answers["live_load"][1].startswith(no_browser)
        assert answers["live_browse"][0].startswith(no_browser)
        assert answers["live_set_param"] == ["refused: track 9 'lead' has no device 0 (0 devices)"]
        assert [o.op for o in ops] == ["create_track", "mix", "write_clip", "fire_scene"]
    assert of(events, ev.ActorCrashed) == []
    operations = f"{len(ops)} tool operations, 0 failed"
    assert any(operations in line for line in result.summary.lines()), result.summary.lines()

    # Live shows it: the track, its instrument and parameter, its mix, the song's tempo; the clip launched, played
    tracks = of(events, ev.AbletonStatus)[0].tracks
    peer_events = wait_for_peer(peer, tracks)
    state = trio.run(_live_state, peer, lead)
    assert state["name"] == "lead" and state["volume"] == pytest.approx(0.6) and state["pan"] == pytest.approx(-0.3)
    assert state["tempo"] == 176.0
    if fork:
        assert state["devices"] == ("Drift",) and state["shape"] == 1.0
    assert any(e["event"] == "scene_launched" and e["scene"] == 4 for e in peer_events)
    assert any(e["event"] == "clip_launched" and e["track"] == lead and e["slot"] == 4 for e in peer_events)
    played = {e["pitch"] for e in peer_events if e["event"] == "note" and e["track"] == lead}
    assert played == {60, 63, 67}
    # the set's own tracks played on through the scene (their empty slots in its row had their stop buttons off)
    scene_at = next(e["song_time"] for e in peer_events if e["event"] == "clip_launched" and e["track"] == lead)
    stopped = [e for e in peer_events if e["event"] == "clip_stopped" and e.get("song_time") == scene_at]
    assert [e for e in stopped if e["track"] in tracks.values()] == []

    assert main(["replay", str(result.log_path), "--verify"]) == 0
