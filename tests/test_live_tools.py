"""The Live tools' guardrails, on a view of Live built from events: each refusal names its reason, values are
clamped, and an operation is only a request (nothing here talks to Live)."""

from __future__ import annotations

import msgspec

from bergain_actors.actors.conductor.rlm import live_tools
from bergain_actors.actors.conductor.rlm.live_tools import LiveView, Request, request
from bergain_actors.core import events as ev

DRIFT = ev.LiveDevice(
    "Drift", 1, (ev.LiveParameter("Device On", 1.0, 0.0, 1.0), ev.LiveParameter("Filter Freq", 0.75, 0.0, 1.0))
)


def view(mode: str = "live", browser: bool = True) -> LiveView:
    tracks = (
        ev.LiveTrack(0, "1-MIDI", True),
        ev.LiveTrack(1, "3-Audio", False),
        ev.LiveTrack(2, "drums", True, devices=(DRIFT,), clips=("drums 0", "", "", "", "", "")),
        ev.LiveTrack(3, "bass", True, clips=("", "", "", "", "", "")),
        ev.LiveTrack(4, "lead", True, devices=(DRIFT,), clips=("", "", "", "", "lead", "")),
    )
    items = {"instruments": ("Drift", "Operator"), "drums": ("909 Core Kit",), "audio_effects": ("Reverb",)}
    live = LiveView(mode)
    live.handle(ev.AbletonStatus(state="connected", tracks={"drums": 2, "bass": 3}))
    live.handle(ev.LiveSnapshot(tracks=tracks, scenes=6, tempo=128.0, playing=True, browser=items if browser else {}))
    live.created.add("lead")
    return live


def test_each_guardrail_refuses_with_its_reason():
    live = view()
    cases = [
        ("live_delete_track", {"track": "drums"}, "track 2 'drums' is the set's own drums track: it is never deleted"),
        ("live_delete_track", {"track": 0}, "track 0 '1-MIDI' is not one you created"),
        ("live_create_track", {"name": "Bass"}, "Live already has a track named 'Bass'"),
        ("live_load", {"track": "bass", "name": "Drift"}, "the set's own bass track: it keeps its instrument"),
        ("live_load", {"track": 1, "name": "Drift"}, "is an audio track; Live would insert a new track"),
        ("live_load", {"track": "lead", "name": "Moog"}, "the browser has no instrument 'Moog' (try: Drift, Operator)"),
        ("live_load", {"track": "lead", "name": "Drift", "kind": "sampler"}, "kind 'sampler' is not one of"),
        ("live_set_param", {"track": "drums", "device": 0, "param": 0, "value": 0}, "its devices are never switched"),
        ("live_set_param", {"track": "lead", "device": 3, "param": 0, "value": 0}, "has no device 3"),
        ("live_mix", {"track": "bass", "volume": 0.5}, "the set's mixer rides its fader"),
        ("live_mix", {"track": "lead"}, "give a volume (0-0.85, 0.85 is 0 dB) or a pan"),
        ("live_fire_clip", {"track": "drums", "slot": 0}, "the Ableton actor fires its clips on their bars"),
        ("live_fire_clip", {"track": "lead", "slot": 2}, "track 4 has no clip in slot 2 (clips in: 4)"),
        ("live_stop", {}, "Live's transport never stops mid-set"),
        ("live_stop", {"track": "drums"}, "it plays until the set says otherwise"),
        ("live_fire_scene", {"scene": 2}, "scenes 0..3 hold the set's clip ring"),
        ("live_fire_scene", {"scene": 9}, "Live has scenes 0..5, not 9"),
        ("live_fire_scene", {"scene": 5}, "scene 5 has no clip on your tracks to fire"),
        ("live_write_clip", {"track": "drums", "slot": 1, "notes": [[36, 0, 1, 100]]}, "slots 0..3 are its clip ring"),
        ("live_write_clip", {"track": 1, "slot": 4, "notes": [[36, 0, 1, 100]]}, "is an audio track; clips of notes"),
        ("live_write_clip", {"track": "lead", "slot": 4, "notes": [[128, 0, 1, 100]]}, "pitch 128 is not a whole"),
        ("live_write_clip", {"track": "lead", "slot": 4, "notes": [[60, 4, 1, 100]]}, "must start in 0..4 beats"),
        ("live_write_clip", {"track": "lead", "slot": 4, "notes": [[60, 0]]}, "note 0 is [60, 0], not [pitch"),
        ("live_write_clip", {"track": "lead", "slot": 4, "notes": [], "bars": 1}, "notes must be a list of 1..256"),
        ("live_write_clip", {"track": "lead", "slot": 4, "notes": [[60, 0, 1, 9]], "bars": 9}, "bars must be 1..8"),
        ("live_mix", {"track": "nobody", "volume": 0.5}, "no track 'nobody' in Live (tracks: 0 '1-MIDI', 1 '3-Audio'"),
    ]
    for tool, args, reason in cases:
        answer = request(live, tool, args, phrase=0)
        assert isinstance(answer, str) and answer.startswith("refused: ") and reason in answer, (tool, args, answer)
    assert live.ops == {}, "a refusal costs no operation"


def test_values_are_clamped_and_operations_are_requests():
    live = view()
    mix = request(live, "live_mix", {"track": "lead", "volume": 1.5, "pan": -3}, phrase=0)
    assert mix == Request(
        "mix",
        {"track": 4, "volume": 0.85, "pan": -1.0},
        "clamped volume 1.5 to 0.85 (0..0.85); clamped pan -3 to -1 (-1..1)",
    )
    param = request(live, "live_set_param", {"track": "lead", "device": 0, "param": 1, "value": 2}, phrase=0)
    assert param == Request("set_param", {"track": 4, "device": 0, "param": 1, "value": 1.0}, "clamped 2 to 1 (0..1)")
    clip = request(
        live, "live_write_clip", {"track": "lead", "slot": 5, "notes": [[60, 3.5, 2, 300]], "name": "x"}, phrase=0
    )
    assert clip == Request(
        "write_clip", {"track": 4, "slot": 5, "beats": 4, "notes": [[60, 3.5, 0.5, 127]], "name": "x"}
    )
    scene = request(live, "live_fire_scene", {"scene": 4}, phrase=0)
    assert scene == Request("fire_scene", {"scene": 4, "keep": [2, 3]})
    assert request(live, "live_load", {"track": "drums", "name": "reverb", "kind": "audio_effect"}, phrase=0) == (
        Request("load", {"track": 2, "kind": "audio_effect", "name": "Reverb"})
    )


def test_a_set_allows_four_new_tracks_and_deletes_only_the_last_of_them():
    live = view()  # "lead" was created already
    made = [request(live, "live_create_track", {"name": f"t{i}"}, phrase=i) for i in range(4)]
    assert all(isinstance(m, Request) for m in made[:3])
    assert made[3] == "refused: 4 new tracks in a set is the limit"
    assert request(live, "live_delete_track", {"track": "lead"}, phrase=9) == Request("delete_track", {"track": 4})
    live.snapshot = msgspec.structs.replace(live.snapshot, tracks=(*live.snapshot.tracks, ev.LiveTrack(5, "t0", True)))
    assert request(live, "live_delete_track", {"track": "t0"}, phrase=9) == Request("delete_track", {"track": 5})
    live.created.add("lead")
    assert request(live, "live_delete_track", {"track": "lead"}, phrase=10) == (
        "refused: only the last track can be deleted (deleting another renumbers the ones after it)"
    )


def test_a_phrase_allows_a_bounded_number_of_operations():
    live = view()
    asked = [request(live, "live_fire_clip", {"track": "lead", "slot": 4}, phrase=3) for _ in range(7)]
    assert all(isinstance(a, Request) for a in asked[: live_tools.MAX_OPS_PER_PHRASE])
    assert asked[-1] == "refused: 6 operations on Live this phrase is the limit; play() on"
    assert live_tools.count(live, phrase=3).startswith("refused: 6 operations")  # a tempo change counts too
    assert isinstance(request(live, "live_fire_clip", {"track": "lead", "slot": 4}, phrase=4), Request)


def test_without_a_snapshot_or_a_browser_the_tools_say_so():
    empty = LiveView("live")
    assert live_tools.status(empty, 0) == live_tools.NOT_CONNECTED
    assert request(empty, "live_mix", {"track": 0, "volume": 0.5}, phrase=0) == live_tools.NOT_CONNECTED
    upstream = view(browser=False)
    for answer in (
        live_tools.browse(upstream, "instruments"),
        request(upstream, "live_load", {"track": "lead", "name": "Drift"}, phrase=0),
    ):
        assert answer.startswith("refused: this AbletonOSC has no browser API (upstream AbletonOSC)")
    palette = view(mode="palette")
    assert request(palette, "live_fire_scene", {"scene": 4}, phrase=0).startswith("refused: in palette mode")
