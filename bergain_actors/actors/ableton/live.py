"""What we ask of Live through AbletonOSC: a snapshot of the set, an idempotent set-up, clips written and fired.

Shared by ``check``, the AbletonLink actor, ``replay --ableton`` and the bench. Every function here awaits
replies: call them only from an actor's own task, never from the audio path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
import trio

from bergain_actors.actors.ableton.osc import OscClient, OscError, chunk_notes
from bergain_actors.core import events as ev
from bergain_actors.music.notes import TRACKS
from bergain_actors.music.plan import TICKS_PER_BEAT

if TYPE_CHECKING:
    from bergain_actors.music.notes import Note

ROLES = TRACKS
"""The Ableton tracks a set plays on, in order."""

INSTRUMENTS = {
    "drums": ("load_drum_kit", "909 Core Kit"),
    "bass": ("load_instrument", "Operator"),
    "chords": ("load_instrument", "Drift"),
    "stab": ("load_instrument", "Wavetable"),
    "texture": ("load_instrument", "Drift"),
}
"""What each role's track gets through the browser (the fork's ``/live/browser/*``), or what to load by hand."""


def live_volume(gain: float) -> float:
    """A linear gain (1 = 0 dB) as Live's track volume (0..1): 0.85 is 0 dB, 1.0 is +6 dB, 0.4 is -18 dB, linear in
    dB above 0.4 and 40·log10 below (the curve of Live's fader, as ``abletonosc_peer`` displays it)."""
    if gain <= 0:
        return 0.0
    db = 20 * math.log10(gain)
    volume = 1.0 - (6.0 - db) / 40.0 if db >= -18.0 else 0.4 * 10 ** ((db + 18.0) / 40.0)
    return round(min(1.0, max(0.0, volume)), 4)


class TrackInfo(msgspec.Struct, frozen=True):
    index: int
    name: str
    midi: bool
    devices: tuple[str, ...] = ()


class LiveStatus(msgspec.Struct, frozen=True):
    """One look at Live: what ``check`` prints and what set-up starts from."""

    version: str
    tempo: float
    playing: bool
    tracks: tuple[TrackInfo, ...]
    scenes: tuple[str, ...]
    browser: bool
    """Whether AbletonOSC can load devices (``/live/browser/*``: the smithclay fork)."""


class SetupResult(msgspec.Struct, frozen=True):
    tracks: dict[str, int]
    """Role → Live track index."""
    created: tuple[str, ...] = ()
    loaded: dict[str, str] = {}
    """Role → instrument loaded through the browser."""
    to_load: dict[str, str] = {}
    """Role → instrument the user should load by hand (a track with no instrument, and no browser API)."""
    abandoned: tuple[str, ...] = ()
    """Tracks set-up made and could not use (stopped): named in the summary."""


async def gather(*calls: object) -> list[tuple]:
    """Run queries concurrently (pipelined into the same Live tick); results in order. The first ``OscError``
    cancels the rest and is raised as itself."""
    results: list[tuple] = [()] * len(calls)
    errors: list[OscError] = []

    async def one(i: int, call: object, cancel: trio.CancelScope) -> None:
        try:
            results[i] = await call  # type: ignore[misc]
        except OscError as exc:
            errors.append(exc)
            cancel.cancel()

    async with trio.open_nursery() as nursery:
        for i, call in enumerate(calls):
            nursery.start_soon(one, i, call, nursery.cancel_scope)
    if errors:
        raise errors[0]
    return results


async def status(osc: OscClient) -> LiveStatus:
    version, tempo, playing, count, scenes = await gather(
        osc.query("/live/application/get/version"),
        osc.query("/live/song/get/tempo"),
        osc.query("/live/song/get/is_playing"),
        osc.query("/live/song/get/num_tracks"),
        osc.query("/live/song/get/scenes/name"),
    )
    n = int(count[0])
    per_track = await gather(
        *[osc.query("/live/track/get/name", t) for t in range(n)],
        *[osc.query("/live/track/get/has_midi_input", t) for t in range(n)],
        *[osc.query("/live/track/get/devices/name", t) for t in range(n)],
    )
    tracks = tuple(
        TrackInfo(t, str(per_track[t][0]), bool(per_track[n + t][0]), tuple(str(d) for d in per_track[2 * n + t]))
        for t in range(n)
    )
    return LiveStatus(
        version=".".join(str(v) for v in version),
        tempo=round(float(tempo[0]), 3),
        playing=bool(playing[0]),
        tracks=tracks,
        scenes=tuple(str(s) for s in scenes),
        browser=await has_browser(osc),
    )


async def has_browser(osc: OscClient) -> bool:
    try:
        await osc.query("/live/browser/list_midi_effects", timeout=max(osc.timeout, 1.0))
    except OscError:
        return False
    return True


ATTEMPTS = 4
"""How often a write Live did not confirm is made again (a datagram lost each way at 5 %: about one in ten
round trips fails, so four tries leave one write in ten thousand unconfirmed)."""


async def setup(
    osc: OscClient, names: dict[str, str], *, scenes: int, load: bool, current: LiveStatus | None = None
) -> SetupResult:
    """Find or create a MIDI track per role (by name), give it an instrument when we can, and make sure Live has
    at least ``scenes`` scenes. Every create is checked by index and name before the next; a track made and not
    named is stopped and reported (``abandoned``), never left playing. Running it again changes nothing."""
    now = current or await status(osc)
    by_name = {t.name.lower(): t for t in now.tracks if t.midi}
    tracks: dict[str, int] = {}
    created: list[str] = []
    abandoned: list[str] = []
    devices: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        found = by_name.get(names[role].lower())
        if found is not None:
            tracks[role] = found.index
            devices[role] = found.devices
            continue
        tracks[role] = await create_track(osc, names[role], abandoned)
        devices[role] = ()
        created.append(role)
    await ensure_scenes(osc, scenes)
    loaded: dict[str, str] = {}
    to_load: dict[str, str] = {}
    for role in ROLES:
        if devices[role]:
            continue
        method, name = INSTRUMENTS[role]
        if load and now.browser:
            got = await load_instrument(osc, tracks[role], method, name)
            if got:
                loaded[role] = got
                continue
        to_load[role] = name
    return SetupResult(
        tracks=tracks, created=tuple(created), loaded=loaded, to_load=to_load, abandoned=tuple(abandoned)
    )


async def create_track(osc: OscClient, name: str, abandoned: list[str]) -> int:
    """A new MIDI track named ``name`` at the end of the set; its index. Live reports nothing on a create, so the
    track count is read after it (Live handles our messages in order): unchanged, the create was lost and is sent
    again; one more, the new track is named and the name read back. A track that will not take its name is
    stopped and added to ``abandoned``."""
    for _ in range(ATTEMPTS):
        (before,) = await osc.query("/live/song/get/num_tracks")
        osc.send("/live/song/create_midi_track", -1)
        (after,) = await osc.query("/live/song/get/num_tracks")
        if int(after) <= int(before):
            continue
        index = int(after) - 1
        if await confirm(osc, ("/live/track/set/name", index, name), ("/live/track/get/name", index), name):
            return index
        osc.send("/live/track/stop_all_clips", index)
        abandoned.append(f"track {index} (made for {name!r}, never took its name; stopped)")
    raise OscError("setup", f"Live did not create the track {name!r} in {ATTEMPTS} tries")


async def confirm(osc: OscClient, write: tuple, read: tuple, want: object) -> bool:
    """Send ``write`` until ``read`` answers ``want`` (the write is idempotent: it sets a value)."""
    for _ in range(ATTEMPTS):
        osc.send(*write)
        got = await osc.query(*read)
        if got and got[0] == want:
            return True
    return False


async def ensure_scenes(osc: OscClient, scenes: int) -> None:
    """At least ``scenes`` scenes, counted again after each round of creates (a lost create is made again)."""
    for _ in range(ATTEMPTS + 1):
        (have,) = await osc.query("/live/song/get/num_scenes")
        if int(have) >= scenes:
            return
        for _ in range(scenes - int(have)):
            osc.send("/live/song/create_scene", -1)
    raise OscError("setup", f"Live did not make {scenes} scenes in {ATTEMPTS} tries")


async def load_instrument(osc: OscClient, track: int, method: str, name: str) -> str:
    """Load ``name`` onto ``track`` through the fork's browser (it loads onto the selected track: the selection is
    read back first); what Live loaded, or "" when it would not. A load is not idempotent, so it is never sent
    twice blind: with no answer, the track's devices say whether it happened."""
    if not await confirm(osc, ("/live/view/set/selected_track", track), ("/live/view/get/selected_track",), track):
        return ""
    for _ in range(ATTEMPTS):
        try:
            reply = await osc.query(f"/live/browser/{method}", name, ids=0, timeout=max(osc.timeout, 2.0), retries=0)
            return str(reply[0]) if reply else name
        except OscError as exc:
            if exc.kind != "timeout":
                return ""
        devices = await osc.query("/live/track/get/devices/name", track)
        if devices:
            return str(devices[0])
    return ""


def ours(name: object, role: str) -> bool:
    """Whether a clip is one a set wrote for ``role`` (``"bass 12"``): its slot is the set's to write again."""
    text = str(name) if name is not None else ""
    head, _, bar = text.rpartition(" ")
    return head == role and bar.isdigit()


def ring_slots(clips: Sequence[object], role: str, size: int) -> tuple[list[int], int]:
    """The first ``size`` slots of a track that hold no clip, or only one of ours (``clips``: each slot's clip
    name, None when empty); and how many more slots (new scenes) it still needs. A performer's clip is never
    among them."""
    free = [i for i, name in enumerate(clips) if name is None or ours(name, role)][:size]
    return free, size - len(free)


async def ring(osc: OscClient, tracks: dict[str, int], size: int) -> dict[str, tuple[int, ...]]:
    """Each role's ring of ``size`` slots its clips cycle through, among the slots no performer's clip holds;
    scenes are added at the end when a track has too few (never a clip overwritten)."""
    clips = await gather(*[osc.query("/live/track/get/clips/name", t) for t in tracks.values()])
    need = max(ring_slots(c, role, size)[1] for role, c in zip(tracks, clips, strict=True))
    if need:
        (scenes,) = await osc.query("/live/song/get/num_scenes")
        await ensure_scenes(osc, int(scenes) + need)
        clips = await gather(*[osc.query("/live/track/get/clips/name", t) for t in tracks.values()])
    out = {}
    for role, names in zip(tracks, clips, strict=True):
        free, missing = ring_slots(names, role, size)
        if missing:
            raise OscError("setup", f"track {tracks[role]} has {len(free)} free slots after adding scenes")
        out[role] = tuple(free)
    return out


def grid_rows(clips: dict[str, Sequence[object]], scenes: Sequence[str], grid: Sequence[str]) -> list[int]:
    """The scene rows palette mode's grid may use, top to bottom: a row whose scene has no name or one of the
    grid's (``grid``: the grid's scene names), and whose slot on each of the set's tracks (``clips``: role → each
    slot's clip name, None when empty) is empty or holds one of the grid's clips for that role ("peak drums").
    A performer's scene or clip is never among them."""
    own = set(grid)

    def free(names: Sequence[object], role: str, row: int) -> bool:
        name = names[row] if row < len(names) else None
        head, _, tail = str(name).rpartition(" ")
        return name is None or (head in own and tail == role)

    return [
        row
        for row, scene in enumerate(scenes)
        if (not scene or scene in own) and all(free(names, role, row) for role, names in clips.items())
    ]


async def palette_rows(osc: OscClient, tracks: dict[str, int], grid: Sequence[str]) -> tuple[int, ...]:
    """A row of Live's scenes for each of the grid's scenes (``grid_rows``), adding scenes at the end when there
    are too few; a set played again finds its grid where the last one left it."""
    for _ in range(2):
        asked = [osc.query("/live/track/get/clips/name", t) for t in tracks.values()]
        scenes, *clips = await gather(osc.query("/live/song/get/scenes/name"), *asked)
        rows = grid_rows(dict(zip(tracks, clips, strict=True)), [str(s) for s in scenes], grid)
        if len(rows) >= len(grid):
            return tuple(rows[: len(grid)])
        await ensure_scenes(osc, len(scenes) + len(grid) - len(rows))
    raise OscError("setup", f"Live has {len(rows)} free scene rows for the grid's {len(grid)} after adding scenes")


def note_args(notes: Sequence[Note]) -> list[tuple[int, float, float, int, bool]]:
    """Our notes (ticks) as AbletonOSC's 5-tuples (pitch int, start and length in beats, velocity, mute)."""
    return [(n.pitch, n.start / TICKS_PER_BEAT, n.duration / TICKS_PER_BEAT, n.velocity, False) for n in notes]


WRITE_ATTEMPTS = 6
"""How often a clip is written before its bar is given up (reported off): a try sends five datagrams or so, so
about one in five fails at 5 % loss each way; six tries leave one clip in ten thousand unwritten, and each try is
a few Live ticks, well inside the two bars a clip is written ahead."""


async def write_clip(osc: OscClient, track: int, slot: int, notes: Sequence[Note], beats: int, name: str) -> None:
    """Put ``notes`` in a fresh looping clip of ``beats`` beats in an empty-or-stale slot, confirmed by reading it
    back (its name in the track's slot list, then its notes). Only what failed is sent again: a clip holding the
    right notes under another name (its name was lost) is named again; one Live did not take whole (a create or
    a note lost, or a stale clip left in the slot) is written again from scratch: delete, create, add is
    idempotent. Nothing is sent into a slot Live has not made a clip in (see ``OscClient._answers``)."""
    want = _note_set(note_args(notes))
    whole = True
    for _ in range(WRITE_ATTEMPTS):
        if whole:
            osc.send("/live/clip_slot/delete_clip", track, slot)
            osc.send("/live/clip_slot/create_clip", track, slot, float(beats))
            # the notes and name go only into a clip Live made: into an empty slot each would draw a /live/error
            # naming a property ("add_new_notes", "name") that a read-back of another clip could take as its own
            if not (await osc.query("/live/clip_slot/get/has_clip", track, slot))[0]:
                continue
            for args in chunk_notes([track, slot], note_args(notes)):
                osc.send("/live/clip/add/notes", *args)
        osc.send("/live/clip/set/name", track, slot, name)
        # Live answers in order: once this slot's own barrier is answered, every reply and error to what came
        # before (this try's writes, an earlier try's read-back cut short) has arrived, so none of them can answer
        # the read-back below (a stale one did: a clip holding its notes twice was taken as written)
        await osc.query("/live/clip_slot/get/has_clip", track, slot)
        try:  # both asked at once (one Live tick): an empty slot's notes are answered by Live's error
            names, got = await gather(
                osc.query("/live/track/get/clips/name", track), osc.query("/live/clip/get/notes", track, slot)
            )
        except OscError as exc:
            if exc.kind != "live":  # Live's error answered a read-back: the clip is not there; write it again
                raise
            whole = True
            continue
        whole = _note_set(zip(*[iter(got)] * 5, strict=False)) != want
        if not whole and slot < len(names) and names[slot] == name:
            return
    raise OscError("write", f"track {track} slot {slot}: Live did not take clip {name!r} in {WRITE_ATTEMPTS} tries")


def _note_set(notes: object) -> list[tuple[int, float, float, int]]:
    """Notes as Live stores them (float32 times, sorted), comparable with what ``get/notes`` returns. Pitch 127 is
    left out: AbletonOSC's default window never returns it."""
    return sorted(
        (int(p), round(float(s), 3), round(float(d), 3), round(float(v)))
        for p, s, d, v, *_ in notes  # type: ignore[attr-defined]
        if int(p) < 127
    )


BROWSER = ("instruments", "drums", "audio_effects", "midi_effects")
"""The browser categories a snapshot lists (the fork's ``/live/browser/browse``)."""
MAX_PARAMETERS = 48
"""Parameters listed per device: enough for a synth's main page, small enough for a prompt."""


async def browser_items(osc: OscClient) -> dict[str, tuple[str, ...]]:
    """What the browser offers per category; empty without the browser API. Asked one category at a time: the
    replies carry no ids, so they are told apart by order."""
    items: dict[str, tuple[str, ...]] = {}
    for category in BROWSER:
        reply = await osc.query("/live/browser/browse", category, ids=0, timeout=max(osc.timeout, 2.0))
        items[category] = tuple(str(name) for name in reply)
    return items


async def snapshot(osc: OscClient, browser: dict[str, tuple[str, ...]]) -> ev.LiveSnapshot:
    """Everything the rlm brain's Live tools may read: tracks with their mixer, devices (and parameters) and clip
    slots, scenes, tempo, transport, and ``browser`` (read once per session by ``browser_items``)."""
    tempo, playing, count, scenes = await gather(
        osc.query("/live/song/get/tempo"),
        osc.query("/live/song/get/is_playing"),
        osc.query("/live/song/get/num_tracks"),
        osc.query("/live/song/get/num_scenes"),
    )
    n = int(count[0])
    props = ("name", "has_midi_input", "volume", "panning", "devices/name", "devices/type", "clips/name")
    per = await gather(*[osc.query(f"/live/track/get/{prop}", t) for prop in props for t in range(n)])
    name, midi, volume, pan, devices, kinds, clips = (per[i * n : (i + 1) * n] for i in range(len(props)))
    wanted = [(t, d) for t in range(n) for d in range(len(devices[t]))]
    fields = ("name", "value", "min", "max")
    params = await gather(*[osc.query(f"/live/device/get/parameters/{p}", t, d) for t, d in wanted for p in fields])
    found: dict[tuple[int, int], tuple[ev.LiveParameter, ...]] = {}
    for i, key in enumerate(wanted):
        names, values, lows, highs = params[4 * i : 4 * i + 4]
        found[key] = tuple(
            ev.LiveParameter(str(p), _num(v), _num(lo), _num(hi))
            for p, v, lo, hi in list(zip(names, values, lows, highs, strict=False))[:MAX_PARAMETERS]
        )
    tracks = tuple(
        ev.LiveTrack(
            index=t,
            name=str(name[t][0]),
            midi=bool(midi[t][0]),
            volume=_num(volume[t][0]),
            pan=_num(pan[t][0]),
            devices=tuple(
                ev.LiveDevice(str(dn), int(kinds[t][d]) if d < len(kinds[t]) else 0, found[(t, d)])
                for d, dn in enumerate(devices[t])
            ),
            clips=tuple("" if c is None else str(c) for c in clips[t]),
        )
        for t in range(n)
    )
    return ev.LiveSnapshot(
        tracks=tracks, scenes=int(scenes[0]), tempo=_num(tempo[0]), playing=bool(playing[0]), browser=browser
    )


def _num(value: object) -> float:
    """A value from Live as a float the log can hold (float32 noise rounded off)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return round(number, 4) if math.isfinite(number) else 0.0
