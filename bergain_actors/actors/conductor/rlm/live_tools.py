"""The rlm brain's Live tools: the bergain composer's (tempo, status, tracks, browse, load, device parameters, mix,
play, stop, clips, scenes) as pure functions of a ``LiveView`` and the tool's arguments.

What a tool reads comes from the view, built only from Ableton's logged events (``LiveSnapshot``, ``LiveValue``,
``AbletonStatus``), never from Live. What a tool does is a ``Request`` the brain publishes as an ``AbletonOp`` for
the Ableton actor to carry out. Every guardrail is here, and every refusal says why: the set's own tracks are
never deleted, renamed, re-instrumented, silenced, re-mixed or re-clipped (the Conductor's mixer and clips ride
them); the transport never stops mid-set (Live's beat is the set's clock); values are clamped to what Live allows
(volumes to 0 dB); and a phrase allows at most ``MAX_OPS_PER_PHRASE`` operations.
"""

from __future__ import annotations

from typing import Any

import msgspec

from bergain_actors.core import events as ev

MAX_OPS_PER_PHRASE = 6
"""Operations on Live (and tempo changes) per phrase: one or two changes a phrase is what sounds good."""
MAX_TRACKS = 4
"""Tracks the program may create in a set."""
MAX_NOTES = 256
MAX_CLIP_BARS = 8
MAX_VOLUME = 0.85
"""0 dB on Live's fader: the program's tracks never go above unity."""
RING = 4
"""Clip slots (and scenes) 0..RING-1 of the set's own tracks are the live-mode ring the Ableton actor cycles."""
BROWSE = {
    "instrument": "instruments",
    "drum_kit": "drums",
    "audio_effect": "audio_effects",
    "midi_effect": "midi_effects",
}
"""Kind of device → the browser category it is loaded from."""
NOT_CONNECTED = "refused: Live is not connected (no snapshot of it yet); play() on and ask again"


class Request(msgspec.Struct, frozen=True):
    """An operation for the Ableton actor (``AbletonOp``), already checked; ``notes`` says what was clamped."""

    op: str
    args: dict[str, Any]
    notes: str = ""


class LiveView:
    """What the tools know of Live: the latest snapshot, the set's own tracks, and the program's doings so far."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.snapshot: ev.LiveSnapshot | None = None
        self.roles: dict[str, int] = {}
        """The set's own tracks: role → Live track index."""
        self.values: dict[tuple[str, int], float] = {}
        """Live's listeners since the snapshot (tempo, volume, panning)."""
        self.created: set[str] = set()
        """Names of the tracks the program created."""
        self.ops: dict[int, int] = {}
        """Phrase → operations asked for in it."""

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LiveSnapshot):
            self.snapshot, self.values = event, {}
        elif isinstance(event, ev.LiveValue):
            self.values[(event.what, event.track)] = event.value
        elif isinstance(event, ev.AbletonStatus) and event.tracks:
            self.roles = dict(event.tracks)

    def role_of(self, index: int) -> str:
        return next((role for role, i in self.roles.items() if i == index), "")

    def ops_left(self, phrase: int) -> int:
        return MAX_OPS_PER_PHRASE - self.ops.get(phrase, 0)

    def track(self, ref: Any) -> ev.LiveTrack | str:
        """A track by index or name, or the refusal saying which tracks there are."""
        assert self.snapshot is not None
        tracks = self.snapshot.tracks
        for track in tracks:
            if (isinstance(ref, int) and not isinstance(ref, bool) and track.index == ref) or (
                isinstance(ref, str) and track.name.lower() == ref.strip().lower()
            ):
                return track
        names = ", ".join(f"{t.index} {t.name!r}" for t in tracks)
        return f"refused: no track {ref!r} in Live (tracks: {names})"

    def own(self, track: ev.LiveTrack, doing: str) -> str:
        """The refusal for ``doing`` something to one of the set's own tracks, or ""."""
        role = self.role_of(track.index)
        if not role:
            return ""
        return f"refused: track {track.index} {track.name!r} is the set's own {role} track: {doing}"


def status(view: LiveView, phrase: int) -> dict[str, Any] | str:
    snap = view.snapshot
    if snap is None:
        return NOT_CONNECTED
    tracks = []
    for t in snap.tracks:
        tracks.append(
            {
                "index": t.index,
                "name": t.name,
                "midi": t.midi,
                "set_role": view.role_of(t.index),
                "volume": view.values.get(("volume", t.index), t.volume),
                "pan": view.values.get(("panning", t.index), t.pan),
                "devices": [d.name for d in t.devices],
                "clips": {str(slot): name for slot, name in enumerate(t.clips) if name},
            }
        )
    return {
        "tempo": view.values.get(("tempo", -1), snap.tempo),
        "playing": snap.playing,
        "scenes": snap.scenes,
        "browser": bool(snap.browser),
        "mode": view.mode,
        "tracks": tracks,
        "operations_left_this_phrase": view.ops_left(phrase),
    }


def browse(view: LiveView, category: str) -> list[str] | str:
    snap = view.snapshot
    if snap is None:
        return NOT_CONNECTED
    if not snap.browser:
        return _NO_BROWSER
    key = BROWSE.get(category, category)
    if key not in snap.browser:
        return f"refused: no browser category {category!r} (one of {', '.join(BROWSE.values())})"
    return list(snap.browser[key])


def params(view: LiveView, track_ref: Any, device: int) -> list[dict[str, Any]] | str:
    if view.snapshot is None:
        return NOT_CONNECTED
    track = view.track(track_ref)
    if isinstance(track, str):
        return track
    if not 0 <= device < len(track.devices):
        return f"refused: track {track.index} {track.name!r} has no device {device} ({len(track.devices)} devices)"
    return [
        {"index": i, "name": p.name, "value": p.value, "min": p.min, "max": p.max}
        for i, p in enumerate(track.devices[device].parameters)
    ]


def request(view: LiveView, tool: str, args: dict[str, Any], phrase: int) -> Request | str:
    """The operation a doing tool asks for, or a refusal saying why."""
    if view.snapshot is None:
        return NOT_CONNECTED
    if view.ops_left(phrase) <= 0:
        return f"refused: {MAX_OPS_PER_PHRASE} operations on Live this phrase is the limit; play() on"
    made = MAKERS.get(tool)
    if made is None:
        return f"refused: unknown Live tool {tool!r}"
    answer = made(view, args)
    if isinstance(answer, Request):
        view.ops[phrase] = view.ops.get(phrase, 0) + 1
    return answer


def count(view: LiveView, phrase: int) -> str:
    """Count a tempo change against the phrase's operations; a refusal when none are left."""
    if view.ops_left(phrase) <= 0:
        return f"refused: {MAX_OPS_PER_PHRASE} operations on Live this phrase is the limit; play() on"
    view.ops[phrase] = view.ops.get(phrase, 0) + 1
    return ""


# --- one maker per doing tool -------------------------------------------------------------------------------------


def _create_track(view: LiveView, args: dict[str, Any]) -> Request | str:
    name = str(args.get("name", "")).strip()
    if not name or len(name) > 32:
        return "refused: a track needs a name of 1 to 32 characters"
    assert view.snapshot is not None
    if any(t.name.lower() == name.lower() for t in view.snapshot.tracks):
        return f"refused: Live already has a track named {name!r} (a second one could be taken for it)"
    if len(view.created) >= MAX_TRACKS:
        return f"refused: {MAX_TRACKS} new tracks in a set is the limit"
    view.created.add(name.lower())
    return Request("create_track", {"name": name})


def _delete_track(view: LiveView, args: dict[str, Any]) -> Request | str:
    track = view.track(args.get("track"))
    if isinstance(track, str):
        return track
    if refusal := view.own(track, "it is never deleted"):
        return refusal
    if track.name.lower() not in view.created:
        return f"refused: track {track.index} {track.name!r} is not one you created; only those can be deleted"
    if track.index != len(view.snapshot.tracks) - 1:  # type: ignore[union-attr]
        return "refused: only the last track can be deleted (deleting another renumbers the ones after it)"
    view.created.discard(track.name.lower())
    return Request("delete_track", {"track": track.index})


def _load(view: LiveView, args: dict[str, Any]) -> Request | str:
    assert view.snapshot is not None
    if not view.snapshot.browser:
        return _NO_BROWSER
    kind = str(args.get("kind", "instrument"))
    if kind not in BROWSE:
        return f"refused: kind {kind!r} is not one of {', '.join(BROWSE)}"
    track = view.track(args.get("track"))
    if isinstance(track, str):
        return track
    if kind != "audio_effect" and (refusal := view.own(track, "it keeps its instrument and notes")):
        return refusal
    if kind != "audio_effect" and not track.midi:
        where = f"track {track.index} {track.name!r}"
        return f"refused: {where} is an audio track; Live would insert a new track for a {kind}"
    name = str(args.get("name", "")).strip()
    offered = view.snapshot.browser.get(BROWSE[kind], ())
    found = next((item for item in offered if item.lower() == name.lower()), None)
    if found is None:
        return f"refused: the browser has no {kind} {name!r} (try: {', '.join(offered[:12])})"
    return Request("load", {"track": track.index, "kind": kind, "name": found})


def _set_param(view: LiveView, args: dict[str, Any]) -> Request | str:
    track = view.track(args.get("track"))
    if isinstance(track, str):
        return track
    device, param, value = args.get("device"), args.get("param"), args.get("value")
    if not isinstance(device, int) or not 0 <= device < len(track.devices):
        return f"refused: track {track.index} {track.name!r} has no device {device!r} ({len(track.devices)} devices)"
    parameters = track.devices[device].parameters
    if not isinstance(param, int) or not 0 <= param < len(parameters):
        return f"refused: device {device} has no parameter {param!r} ({len(parameters)} parameters)"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return f"refused: value must be a number, got {value!r}"
    p = parameters[param]
    clamped = round(min(p.max, max(p.min, float(value))), 4)
    if param == 0 and clamped == p.min and (refusal := view.own(track, "its devices are never switched off")):
        return refusal
    notes = f"clamped {value:g} to {clamped:g} ({p.min:g}..{p.max:g})" if clamped != value else ""
    return Request("set_param", {"track": track.index, "device": device, "param": param, "value": clamped}, notes)


def _mix(view: LiveView, args: dict[str, Any]) -> Request | str:
    track = view.track(args.get("track"))
    if isinstance(track, str):
        return track
    if refusal := view.own(track, "the set's mixer rides its fader (use fader() on a role)"):
        return refusal
    out: dict[str, Any] = {"track": track.index}
    notes = []
    for key, low, high in (("volume", 0.0, MAX_VOLUME), ("pan", -1.0, 1.0)):
        value = args.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"refused: {key} must be a number, got {value!r}"
        out[key] = round(min(high, max(low, float(value))), 4)
        if out[key] != value:
            notes.append(f"clamped {key} {value:g} to {out[key]:g} ({low:g}..{high:g})")
    if len(out) == 1:
        return "refused: give a volume (0-0.85, 0.85 is 0 dB) or a pan (-1..1)"
    return Request("mix", out, "; ".join(notes))


def _fire_clip(view: LiveView, args: dict[str, Any]) -> Request | str:
    track = view.track(args.get("track"))
    if isinstance(track, str):
        return track
    if refusal := view.own(track, "the Ableton actor fires its clips on their bars"):
        return refusal
    slot = args.get("slot")
    if not isinstance(slot, int) or not 0 <= slot < len(track.clips) or not track.clips[slot]:
        held = [str(i) for i, name in enumerate(track.clips) if name]
        return f"refused: track {track.index} has no clip in slot {slot!r} (clips in: {', '.join(held) or 'no slot'})"
    return Request("fire_clip", {"track": track.index, "slot": slot})


def _stop(view: LiveView, args: dict[str, Any]) -> Request | str:
    ref = args.get("track")
    if ref is None or ref == "":
        return "refused: Live's transport never stops mid-set (its beat is the set's clock); stop one of your tracks"
    track = view.track(ref)
    if isinstance(track, str):
        return track
    if refusal := view.own(track, "it plays until the set says otherwise"):
        return refusal
    return Request("stop_clip", {"track": track.index})


def _fire_scene(view: LiveView, args: dict[str, Any]) -> Request | str:
    snap = view.snapshot
    assert snap is not None
    scene = args.get("scene")
    if view.mode == "palette":
        return "refused: in palette mode the set fires its own grid's scenes on phrase lines"
    if not isinstance(scene, int) or not 0 <= scene < snap.scenes:
        return f"refused: Live has scenes 0..{snap.scenes - 1}, not {scene!r}"
    if scene < RING:
        return f"refused: scenes 0..{RING - 1} hold the set's clip ring; use a scene from {RING} on"
    own = [t for t in snap.tracks if view.role_of(t.index)]
    if any(scene < len(t.clips) and t.clips[scene] for t in own):
        return f"refused: scene {scene} holds a clip of the set's own tracks; firing it would take them over"
    if not any(scene < len(t.clips) and t.clips[scene] for t in snap.tracks if not view.role_of(t.index)):
        return f"refused: scene {scene} has no clip on your tracks to fire"
    return Request("fire_scene", {"scene": scene, "keep": [t.index for t in own]})


def _write_clip(view: LiveView, args: dict[str, Any]) -> Request | str:
    snap = view.snapshot
    assert snap is not None
    track = view.track(args.get("track"))
    if isinstance(track, str):
        return track
    slot, bars = args.get("slot"), args.get("bars", 1)
    if not track.midi:
        return f"refused: track {track.index} {track.name!r} is an audio track; clips of notes need a MIDI track"
    if not isinstance(slot, int) or not 0 <= slot < snap.scenes:
        return f"refused: slot must be 0..{snap.scenes - 1} (Live has {snap.scenes} scenes), not {slot!r}"
    if view.role_of(track.index) and (view.mode == "palette" or slot < RING):
        why = f"slots 0..{RING - 1} are its clip ring" if view.mode == "live" else "the grid is the set's"
        return view.own(track, why)
    if not isinstance(bars, int) or not 1 <= bars <= MAX_CLIP_BARS:
        return f"refused: bars must be 1..{MAX_CLIP_BARS}, not {bars!r}"
    notes = args.get("notes")
    if not isinstance(notes, list) or not notes or len(notes) > MAX_NOTES:
        return f"refused: notes must be a list of 1..{MAX_NOTES} [pitch, start_beat, length_beats, velocity]"
    beats = 4 * bars
    out = []
    for i, note in enumerate(notes):
        if not (isinstance(note, list | tuple) and len(note) == 4 and all(_number(x) for x in note)):
            return f"refused: note {i} is {note!r}, not [pitch, start_beat, length_beats, velocity]"
        pitch, start, length, velocity = note
        if not (0 <= pitch <= 127 and pitch == int(pitch)):
            return f"refused: note {i}: pitch {pitch!r} is not a whole number 0..127"
        if not (0 <= start < beats) or length <= 0:
            return f"refused: note {i}: it must start in 0..{beats} beats and last more than 0"
        out.append([int(pitch), float(start), float(min(length, beats - start)), int(min(127, max(1, velocity)))])
    name = str(args.get("name") or "rlm clip")[:32]
    return Request("write_clip", {"track": track.index, "slot": slot, "beats": beats, "notes": out, "name": name})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NO_BROWSER = (
    "refused: this AbletonOSC has no browser API (upstream AbletonOSC); load devices by hand in Live, or install"
    " the smithclay fork"
)

MAKERS = {
    "live_create_track": _create_track,
    "live_delete_track": _delete_track,
    "live_load": _load,
    "live_set_param": _set_param,
    "live_mix": _mix,
    "live_fire_clip": _fire_clip,
    "live_stop": _stop,
    "live_fire_scene": _fire_scene,
    "live_write_clip": _write_clip,
}
"""The tools that do something to Live."""
READERS = ("live_status", "live_browse", "live_params", "live_play", "live_tempo")
"""The tools that only read the view (``live_tempo`` moves the Conductor's tempo, which Live follows)."""
