"""AbletonLink: the set performed into Ableton Live through AbletonOSC, clocked by Live's beat.

Live mode: each bar's plan becomes notes (``music.notes.bar_notes``, the same notes ``replay --midi`` exports), one
looping one-bar clip per track whose notes change, written into a free slot of a small ring as soon as the plan
arrives (two bars ahead) and fired during the bar before it, so Live's launch quantization starts it on the bar
line. A track whose notes do not change keeps looping its clip. The mixer rides Live's faders: at each bar line
(and each beat of a fade) a track's volume is the level of its loudest layer (``track_levels``; the notes'
velocities are relative to it), its pan the mean pan of its layers, and the song's tempo the plan's; each is sent
only when it changes. Palette mode fires a scene of a pre-built grid (energy × phase) on phrase boundaries instead.

The rlm brain's Live tools act through ``AbletonOp`` events: a task of the actor carries each out against Live
(beside the clips, never holding them up), reads Live again (``LiveSnapshot``: what the tools read) and answers
``AbletonOpDone``.

Live is shared and UDP loses datagrams: every write is confirmed (clips and fires read back, tracks checked by
index and name) or idempotent (faders sent whole each bar), and only what failed is sent again. A watchdog reads
Live's song time every half beat (a beat the listener did not push still reaches the clock) and, once a bar, its
tempo and our tracks; what someone else changed follows the scenario's ``on_transport`` / ``on_tempo``. Each bar
Live did not play as planned is a ``LiveBarOff``. The ring of clip slots never holds a performer's clip.

An edge actor: ``handle`` only records plans, bars and operations; the actor's own tasks talk to Live. Everything
it learns from Live (beats, errors, losses, reloads, listeners, snapshots) and everything it does (clips written
and fired, scenes fired, operations) is an event first, so ``replay --verify`` needs no Live. Faults never reach
the music: Live absent or lost, the set goes on by our own clock (``LiveClockSink``) while this task reconnects
with backoff and resyncs.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import msgspec
import trio

from bergain_actors.actors.ableton import live
from bergain_actors.actors.ableton.clock import LiveClock, LiveClockSink
from bergain_actors.actors.ableton.live import live_volume
from bergain_actors.actors.ableton.osc import OscClient, OscError
from bergain_actors.actors.streamer.sinks import Sink
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext, SetContext
from bergain_actors.music.notes import Note, bar_notes, track_for, track_levels
from bergain_actors.music.palette import build_palette, scene_for
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan
from bergain_actors.music.theory import set_theory

_LISTENED = {
    "/live/song/get/tempo": "tempo",
    "/live/track/get/volume": "volume",
    "/live/track/get/panning": "panning",
}
"""Listener pushes logged as ``LiveValue``."""

RING = 4
"""Clip slots per track in live mode: one playing, one fired, one or two written ahead."""
TRANSPORT_WAIT = 0.25
"""Seconds a fire waits for Live's transport to be read (two or three Live ticks) before it trusts the last read."""
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Seconds between reconnection attempts while Live is away."""


LOADERS = {
    "instrument": "load_instrument",
    "drum_kit": "load_drum_kit",
    "audio_effect": "load_audio_effect",
    "midi_effect": "load_midi_effect",
}
"""The fork's browser method for each kind of device the tools load."""


class OpFailed(Exception):
    """Live answered an operation with an error."""


class Lost(Exception):
    """Live stopped answering (or reloaded its script): resync."""


class TrackState(msgspec.Struct):
    index: int
    ring: tuple[int, ...] = tuple(range(4))
    """The slots this track's clips cycle through: empty, or holding only the set's own clips."""
    scheduled: tuple[Note, ...] | None = None
    """The notes the track plays at the last bar written or fired (None: unknown, e.g. after a resync)."""
    next_slot: int = 0
    volume: float | None = None
    """The volume and pan last sent to Live (None: not since set-up)."""
    pan: float | None = None


class Pending(msgspec.Struct):
    """A clip written for ``bar`` and not fired yet (``slot`` -1: the track stops at ``bar``)."""

    bar: int
    role: str
    slot: int
    ready: bool = False
    """Live confirmed the clip (read back): only then is it fired."""


class AbletonState:
    """What survives a restart of the actor: the clock the streamer's sink follows and where Live stands."""

    def __init__(self, clock: LiveClock) -> None:
        self.clock = clock
        self.plans: dict[int, BarPlan] = {}
        self.played = -1
        """The last set bar that began (``BarPlayed``)."""
        self.started = False
        self.tracks: dict[str, TrackState] = {}
        self.pending: list[Pending] = []
        self.written = -1
        """The last bar whose clips were written (or found unchanged)."""
        self.expect: dict[str, tuple[int, int]] = {}
        """Role → (bar, slot) of the last clip fired: what Live should play from that bar on (-1: nothing)."""
        self.ok = False
        self.scene_bar = -1
        """Palette mode: the phrase bar whose scene was fired last."""
        self.rows: tuple[int, ...] = ()
        """Palette mode: the Live scene row holding each of the grid's scenes (``live.palette_rows``)."""
        self.tempo = 0.0
        """The song tempo last sent to Live."""
        self.values: dict[tuple[str, int], float] = {}
        """What Live's listeners last reported (``LiveValue``), to log only changes."""
        self.ops: list[ev.AbletonOp] = []
        """Operations asked for and not answered yet."""
        self.browser: dict[str, tuple[str, ...]] = {}
        self.snapshot_due = False
        """A session began: Live is read again for the tools."""
        self.prompt_clips: list[ev.ClipAdded] = []
        """Clips made from prompts (``ClipAdded``, target ``ableton``) not written into Live yet."""


def state_of(set_ctx: SetContext) -> AbletonState:
    """The set's Ableton state, made with its clock on first use (by ``clocked_by_live``, before the actor)."""
    durable = set_ctx.durable
    if "ableton" not in durable:
        meter = set_ctx.meter
        durable["ableton"] = AbletonState(LiveClock(meter.beats_per_bar, float(meter.bar_seconds)))
    return durable["ableton"]


def clocked_by_live(set_ctx: SetContext, sink: Sink) -> Sink:
    """The streamer's sink for a set played into Live: paced by Live's bar lines, by ``sink`` when Live is away."""
    state = state_of(set_ctx)
    scenario = set_ctx.scenario
    return LiveClockSink(sink, state.clock, scenario.sample_rate, wait_start=scenario.ableton.connect_s + 2.0)


class AbletonLink(Actor):
    kind = "osc"
    subscribes = (ev.BarPlanned, ev.BarPlayed, ev.ClipAdded, ev.AbletonOp)
    deciding = False

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        self.state = state_of(ctx.set)
        self.clock = self.state.clock
        self.theory = set_theory(ctx.scenario.seed, ctx.scenario.key)
        self.palette = build_palette(self.theory, ctx.scenario.bpm) if config.mode == "palette" else ()
        self.beats_per_bar = ctx.scenario.beats_per_bar
        self._wake = trio.Event()
        self._plan_wake = trio.Event()
        self._ops_wake = trio.Event()
        self._last_beat_at = 0.0
        self._beat_seen = -1
        """The last beat the clock was given (pushed or polled)."""
        self._pushed = -1
        """The last beat Live's listener pushed to us: the watchdog compares it with Live's song time."""
        self._beat_lost = False
        """The listener's pushes do not reach us (another client took them): the set follows polled song time."""
        self._checked = -1
        """The last set bar whose clips were checked against what Live plays."""
        self._mixed = -1
        """The last set bar whose mix was sent whole."""
        self._went_back = False
        """Live's song time went back more than a bar while it played: its transport was stopped and started again
        (a clip fired into a stopped Live starts it from the start marker: our own fire can undo someone's stop
        before a read of ``is_playing`` sees it)."""
        self._stopped = False
        """Someone stopped Live's transport (``on_transport = follow``: until it runs again)."""
        self._transport = True
        """Whether Live's transport ran when last read (every half beat): fires wait while it stands."""
        self._followed = 0.0
        """The tempo set in Live that the set follows (``on_tempo = follow``)."""
        self._tempi: deque[float] = deque(maxlen=8)
        """The tempi we sent last: Live at one of them is our own doing (a glide's step, a change lost), not
        someone else's."""
        self._follow_from = -1
        """The first bar planned at ``_followed``: earlier plans' tempi are not sent (they would undo it)."""
        self._reloaded = False
        self._tasks: trio.Nursery | None = None
        """The session's nursery: checks, read-backs and clip writes run there beside the fire loop."""
        self._errors: list[str] = []
        """Every ``/live/error`` so far: an operation that drew one failed."""
        self._browser = True
        """Whether AbletonOSC offers the browser API, as last said (assumed until a probe says otherwise)."""

    # --- from the bus (synchronous, no I/O) -------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlanned):
            self.state.plans[event.plan.bar] = event.plan
        elif isinstance(event, ev.BarPlayed):
            self.state.played = event.bar
        elif isinstance(event, ev.ClipAdded) and event.target == "ableton":
            self.state.prompt_clips.append(event)
        elif isinstance(event, ev.AbletonOp):
            self.state.ops.append(event)
            self._ops_wake.set()
        self._wake.set()
        self._plan_wake.set()

    # --- from Live (pushes, published before they are used) --------------------------------------------------------

    def _push(self, address: str, args: tuple[Any, ...]) -> None:
        if address == "/live/song/get/beat" and args:
            self._pushed = int(args[0])
            self._beat(int(args[0]))
        elif address in _LISTENED and args:
            what, track = _LISTENED[address], int(args[0]) if address.startswith("/live/track/") else -1
            value = round(float(args[-1]), 4)
            if self.state.values.get((what, track)) != value:
                self.state.values[(what, track)] = value
                self.ctx.emit(ev.LiveValue(what=what, value=value, track=track, bar=max(self.state.played, 0)))
        elif address == "/live/error":
            self._errors.append(" ".join(str(a) for a in args)[:300])
            self.ctx.emit(ev.AbletonError(message=" ".join(str(a) for a in args)[:300], bar=max(self.state.played, 0)))
        elif address == "/live/startup":  # AbletonOSC (re)loaded: while connected, our listeners are gone
            if self.state.ok:
                detail = "AbletonOSC restarted; listeners are gone"
                self.ctx.emit(ev.AbletonStatus(state="reloaded", detail=detail, bar=max(self.state.played, 0)))
                self._reloaded = True
            self._wake.set()

    def _beat(self, beat: int, pushed: bool = True) -> None:
        """Live reached ``beat`` (pushed by its listener, or read from its song time by the watchdog): logged, then
        the clock. A beat already seen is not news; a pushed beat well behind the last one means Live's song time
        went back. A read one never moves the clock back (its answer may be older than a push)."""
        clock = self.clock
        if self.state.started and beat < self._beat_seen - self.beats_per_bar:
            self._went_back = True
        if beat == self._beat_seen or (0 < self._beat_seen - beat <= (1 if pushed else 1 << 30)):
            return
        self._beat_seen = beat
        bar = beat // self.beats_per_bar - clock.origin if clock.up else -1
        self.ctx.emit(ev.LiveBeat(beat=beat, origin=clock.origin, bar=max(bar, 0), tick=beat % self.beats_per_bar))
        self._last_beat_at = trio.current_time()
        clock.beat(beat)
        self._wake.set()

    # --- the actor's task -------------------------------------------------------------------------------------------

    async def run(self, inbox: Any) -> None:
        config = self.config
        try:
            osc = OscClient(
                config.host,
                config.port,
                config.reply_port,
                timeout=config.timeout_s,
                retries=config.retries,
                on_push=self._push,
            )
            async with osc, trio.open_nursery() as nursery:
                nursery.start_soon(self._operate, osc)
                try:
                    await self._serve(osc)
                finally:  # the set is over: Live's clips stop at the next bar line, after the last bar
                    if self.state.ok and self.state.played + 1 >= self.ctx.set.total_bars:
                        check = self._bar_to_check()  # the last bar is checked like every other
                        for _ in range(2):  # (twice, like a fire)
                            osc.send("/live/song/stop_all_clips", 1)
                        with (
                            trio.CancelScope(shield=True),
                            trio.move_on_after(self.clock.bar_seconds * 0.75),
                            contextlib.suppress(OscError),
                        ):
                            await self._confirm_stop(osc)  # first: a check slow to answer must not keep Live playing
                            if check is not None:
                                await self._check_bar(osc, *check)
        except OscError as exc:  # the reply port is taken: nothing we can do until the next set
            self._away("absent", f"{exc}; the set plays on our own audio")
            await trio.sleep_forever()

    async def _confirm_stop(self, osc: OscClient) -> None:
        """The end's stop read back on our tracks (a stop pending, or nothing playing) and sent again while one
        shows neither: a lost stop would leave Live looping the last bar."""
        tracks = [t.index for t in self.state.tracks.values()]
        for _ in range(live.ATTEMPTS):
            replies = await live.gather(
                *[osc.query(f"/live/track/get/{what}_slot_index", t) for t in tracks for what in ("fired", "playing")]
            )
            if all(int(replies[2 * i][0]) == -2 or int(replies[2 * i + 1][0]) < 0 for i in range(len(tracks))):
                return
            osc.send("/live/song/stop_all_clips", 1)

    async def _serve(self, osc: OscClient) -> None:
        attempt = 0
        first = True
        while True:
            try:
                # connect_s in all, asked again within it: a lost datagram does not make Live absent
                wait = self.config.connect_s / (self.config.retries + 1) if first else self.config.timeout_s
                await osc.query("/live/test", timeout=wait)
            except OscError:
                if first:
                    where = f"{self.config.host}:{self.config.port}"
                    self._away("absent", f"no answer at {where}; the set plays on our own audio")
                first = False
                self._wake = trio.Event()
                with trio.move_on_after(BACKOFF[min(attempt, len(BACKOFF) - 1)]):
                    await self._wake.wait()  # or Live says it has started
                attempt += 1
                continue
            first = False
            try:
                await self._session(osc)
            except (Lost, OscError) as exc:
                if self._reloaded:
                    self._reloaded = False
                    attempt = 0
                    continue
                self._away("lost", str(exc))
                attempt = 0

    def _missing(self, now: live.LiveStatus) -> str:
        """What this AbletonOSC cannot do, said once (again only if it changes, e.g. another AbletonOSC after a
        restart): the probe's "unknown address" is its answer, never counted as an error from Live."""
        if now.browser == self._browser:
            return ""
        self._browser = now.browser
        return "" if now.browser else "no browser API (upstream AbletonOSC): instruments cannot be loaded for us"

    def _away(self, state: str, detail: str) -> None:
        if self.state.ok or state == "absent":
            self._change(state, detail)
        self.state.ok = False
        self.clock.down()
        self._ops_wake.set()  # operations waiting are answered: Live is away

    async def _session(self, osc: OscClient) -> None:
        """Set up (again), sync the clock, then keep clips flowing until Live goes away."""
        state, config = self.state, self.config
        restoring = state.started or state.played >= 0  # back after a loss, or late for the start of the set
        now = await live.status(osc)
        names = {role: getattr(config.tracks, role) for role in live.ROLES}
        scenes = len(self.palette) if self.palette else RING
        result = await live.setup(osc, names, scenes=scenes, load=config.load_instruments, current=now)
        self.ctx.emit(
            ev.AbletonStatus(
                state="restored" if restoring else "connected",
                detail=_setup_detail(result, missing=self._missing(now)),
                live_version=now.version,
                tracks=result.tracks,
                bar=max(state.played, 0),
            )
        )
        state.ok = True
        old = state.tracks
        rings = {} if self.palette else await live.ring(osc, result.tracks, RING)
        if self.palette:
            state.rows = await live.palette_rows(osc, result.tracks, [scene.name for scene in self.palette])
        state.tracks = {
            role: TrackState(
                index,
                ring=rings.get(role, tuple(range(RING))),
                next_slot=old[role].next_slot if role in old and old[role].index == index else 0,
            )
            for role, index in result.tracks.items()
        }
        state.pending = []
        state.expect = {}
        self._checked = self._mixed = -1
        plan = state.plans.get(max(state.played, 0))
        state.tempo = 0.0  # a Live that restarted has its own default tempo: set ours again
        self._tempo(osc, plan.bpm if plan is not None else float(self.ctx.scenario.bpm))
        osc.send("/live/song/set/clip_trigger_quantization", 4)
        osc.send("/live/song/start_listen/tempo")
        for track in state.tracks.values():
            if self.palette:  # the grid's clips carry their levels in their velocities
                osc.send("/live/track/set/volume", track.index, 0.85)
            osc.send("/live/track/start_listen/volume", track.index)
            osc.send("/live/track/start_listen/panning", track.index)
        state.scene_bar = -1
        if self.palette:
            await self._build_palette(osc)
        if not restoring:
            osc.send("/live/song/stop_all_clips", 0)
            await live.confirm(osc, ("/live/song/stop_playing",), ("/live/song/get/is_playing",), False)
            await live.confirm(
                osc, ("/live/song/set/current_song_time", 0.0), ("/live/song/get/current_song_time",), 0.0
            )
            state.written = -1
            if not self.palette:
                await self._write(osc, upto=self.ctx.scenario.lookahead_bars - 1)
            osc.send("/live/song/start_listen/beat")
            # answered in order: nothing is fired into a stopped Live
            await live.confirm(osc, ("/live/song/start_playing",), ("/live/song/get/is_playing",), True)
            self.clock.live_bar = -1  # a beat pushed before the transport started does not count
            self._beat_seen = -1
            state.started = True
            self._last_beat_at = trio.current_time()
            self.clock.sync(origin=1)
        else:
            await self._resync(osc, keep=True)
        state.browser = await live.browser_items(osc) if now.browser else {}
        state.snapshot_due = True
        self._ops_wake.set()
        self._pushed = self._beat_seen
        failed: list[Exception] = []
        async with trio.open_nursery() as nursery:
            self._tasks = nursery  # the session's reads and writes that run beside these (they never raise)
            for task in (self._watch, self._follow, self._writer, self._looker):
                nursery.start_soon(_or_end, failed, nursery.cancel_scope, task, osc)
        raise failed[0]

    async def _resync(self, osc: OscClient, keep: bool) -> None:
        """Join Live where it is (starting its transport if it stands): the set bar now playing maps onto Live's
        bar now. With ``keep``, a Live that played on keeps the mapping it had (its bars did not move while we could
        not hear it). The clips are written afresh from the next bar."""
        state = self.state
        playing, song_time = await live.gather(
            osc.query("/live/song/get/is_playing"), osc.query("/live/song/get/current_song_time")
        )
        osc.send("/live/song/start_listen/beat")
        if not playing[0]:
            await live.confirm(osc, ("/live/song/continue_playing",), ("/live/song/get/is_playing",), True)
        self._transport = True
        live_bar = int(float(song_time[0])) // self.beats_per_bar
        state.written = state.played
        state.pending = []
        for track in state.tracks.values():
            track.scheduled = None
        self.clock.live_bar = live_bar
        self._beat_seen = live_bar * self.beats_per_bar
        self._went_back = False  # the mapping below is made from where Live is now
        self._last_beat_at = trio.current_time()
        origin = live_bar - max(state.played, 0)
        if keep and playing[0] and state.started and abs(origin - self.clock.origin) <= 1:
            origin = self.clock.origin
        self.clock.sync(origin=origin)
        self._wake.set()
        self._plan_wake.set()

    async def _watch(self, osc: OscClient) -> None:
        """The watchdog on Live, read every half beat: its song time and transport, and once a bar its tempo and
        our tracks. A beat the listener did not push (lost, or pushed to another client: AbletonOSC pushes to
        whoever sent last) is given to the clock from here, so the set never waits on a push. When a beat passes
        with no push the listener is registered again; when that does not bring it back, the set says so once and
        follows Live's song time. What someone else changed in Live is handled by the scenario's policy."""
        registered = -1
        while True:
            await trio.sleep(30.0 / self.ctx.scenario.bpm)  # half a beat at the set's tempo
            song_time, playing = await live.gather(
                osc.query("/live/song/get/current_song_time"), osc.query("/live/song/get/is_playing")
            )
            self._transport = bool(playing[0])
            if not playing[0] or self._went_back:
                self._went_back = False
                await self._transport_stopped(osc)
                continue
            if self._stopped:
                await self._transport_running(osc)
                continue
            beat = int(float(song_time[0]))
            if beat < 0 or not self.clock.up:
                continue
            self._beat(beat, pushed=False)
            if beat - self._pushed < 2:
                continue
            if registered < 0 or beat - registered >= 2 * self.beats_per_bar:
                osc.send("/live/song/start_listen/beat")  # quiet for a beat: listen again (it replaces ours)
                registered = beat
            elif beat - registered >= 2 and not self._beat_lost:
                self._beat_lost = True
                detail = (
                    f"Live's beat listener has pushed nothing to us since beat {self._pushed} (another client may"
                    " be taking its pushes); the set follows Live's song time, read every half beat"
                )
                self._change("beat lost", detail)

    async def _looker(self, osc: OscClient) -> None:
        """``_look`` once a bar, beside the watchdog (a slow answer there must not stop the song time's reads)."""
        looked = -1
        while True:
            await self.clock.changed()
            bar = self.clock.set_bar()
            if bar is not None and bar > looked and not self._stopped:
                looked = bar
                await self._look(osc)

    def _change(self, state: str, detail: str) -> None:
        """Something in Live is not as the set left it: a warning, an event (the summary's "Live changes")."""
        self.ctx.log.warning(f"Live: {state}", detail=detail)
        self.ctx.emit(ev.AbletonStatus(state=state, detail=detail, bar=max(self.state.played, 0)))

    async def _transport_stopped(self, osc: OscClient) -> None:
        if self._stopped or not self.state.started:
            return
        self._stopped = True
        policy = self.config.on_transport
        self.clock.down()
        if policy == "restart":
            self._change("transport stopped", "someone stopped Live's transport; on_transport = restart: started again")
            await self._resync(osc, keep=False)
            self._stopped = False
        else:
            self._change(
                "transport stopped",
                "someone stopped Live's transport; on_transport = follow: the set plays on our own audio until"
                " Live plays again",
            )

    async def _transport_running(self, osc: OscClient) -> None:
        self._stopped = False
        self._change("transport started", "Live's transport runs again: the set joins it from the next bar")
        await self._resync(osc, keep=False)

    async def _look(self, osc: OscClient) -> None:
        """Once a bar: Live's tempo against the set's, and our tracks against their names."""
        state = self.state
        (tempo,) = await osc.query("/live/song/get/tempo")
        tempo = round(float(tempo), 2)
        if state.tempo and tempo != round(state.tempo, 2) and tempo != self._followed:
            if tempo in self._tempi:  # one of ours (late, or our change was lost on the way): send the set's again
                osc.send("/live/song/set/tempo", float(state.tempo))
            elif self.config.on_tempo == "restore":
                self._change(
                    "tempo changed",
                    f"Live's tempo was set to {tempo:g}; on_tempo = restore: back to {state.tempo:g} BPM",
                )
                osc.send("/live/song/set/tempo", float(state.tempo))
            else:
                self._followed = tempo
                self._follow_from = state.played + self.ctx.scenario.lookahead_bars + 1
                self._change(
                    "tempo changed",
                    f"Live's tempo was set to {tempo:g}; on_tempo = follow: the set plays"
                    f" at {tempo:g} BPM from bar {self._follow_from}",
                )
                self.ctx.emit(ev.LiveTempo(tempo=tempo, bar=max(state.played, 0)))
        names = await osc.query("/live/song/get/track_names")
        wanted = {role: getattr(self.config.tracks, role) for role in state.tracks}
        changed = []
        for role, track in list(state.tracks.items()):
            if track.index < len(names) and str(names[track.index]).lower() == wanted[role].lower():
                continue
            found = [i for i, n in enumerate(names) if str(n).lower() == wanted[role].lower()]
            if found:
                changed.append(f"{wanted[role]!r} moved from track {track.index} to {found[0]}")
                index = found[0]
            else:
                index = await live.create_track(osc, wanted[role], [])
                names = await osc.query("/live/song/get/track_names")
                changed.append(f"{wanted[role]!r} was deleted or renamed in Live: made again as track {index}")
            state.tracks[role] = TrackState(index, ring=(await live.ring(osc, {role: index}, RING))[role])
            state.pending = [p for p in state.pending if p.role != role]
            state.expect.pop(role, None)
        if changed:
            self._change("track changed", "; ".join(changed) + "; their clips go there from the next bar")
            for track in state.tracks.values():
                track.scheduled = None  # written afresh, each on its track as it is now
            state.written = max(state.played, 0)
            self._plan_wake.set()

    async def _follow(self, osc: OscClient) -> None:
        """Fire what is due within the bar before its own, ride the faders, check each bar Live begins; the clips
        are written beside this (``_writer``) and each fire read back beside it, so neither a write Live is slow
        to confirm nor a lost read-back holds up a fire or a bar's check."""
        while True:
            self._wake = trio.Event()
            check = self._bar_to_check()
            if check is not None:
                self._tasks.start_soon(self._check_bar, osc, *check)
            fired = await self._step(osc)
            if fired:
                self._tasks.start_soon(self._confirm_fires, osc, fired)
            with trio.move_on_after(self.clock.bar_seconds / 2):
                await self._wake.wait()
            if self._reloaded:
                raise Lost("AbletonOSC reloaded")
            if trio.current_time() - self._last_beat_at > 1.5 * self.clock.bar_seconds:
                try:
                    await osc.query("/live/test")
                except OscError:
                    raise Lost(f"no beat from Live for {trio.current_time() - self._last_beat_at:.1f} s") from None
                self._last_beat_at = trio.current_time()

    async def _writer(self, osc: OscClient) -> None:
        """Each bar's clips as soon as it is planned, each bar's writes a task of their own."""
        state = self.state
        while True:
            self._plan_wake = trio.Event()
            while state.prompt_clips:
                await self._write_prompt_clip(osc, state.prompt_clips[0])
                state.prompt_clips.pop(0)
            if not self.palette:
                for bar, writes in self._assign(max(state.plans, default=-1)):
                    if writes:
                        self._tasks.start_soon(self._write_bar, osc, bar, writes)
            self._wake.set()
            with trio.move_on_after(self.clock.bar_seconds / 2):
                await self._plan_wake.wait()

    async def _step(self, osc: OscClient) -> list[Pending]:
        """What is due now; the fires, to be read back. Nothing is fired into a stopped Live: a fire would start
        a transport someone stopped (the watchdog applies the policy). The transport is read just before a fire,
        but a read not answered within ``TRANSPORT_WAIT`` fires on the last one (the watchdog's, every half
        beat): a reply lost on the way must not hold a fire past its bar line."""
        if self.palette:
            return self._fire_scene(osc) if self._transport else []
        self._mix(osc)
        now = self.clock.set_bar()
        if now is None or not self._transport or not any(p.ready and p.bar - 1 <= now for p in self.state.pending):
            return []
        with contextlib.suppress(OscError):
            (playing,) = await osc.query("/live/song/get/is_playing", timeout=TRANSPORT_WAIT, retries=0)
            self._transport = bool(playing)
        return self._fire_due(osc) if self._transport else []

    def _fire_due(self, osc: OscClient) -> list[Pending]:
        state = self.state
        now = self.clock.set_bar()
        if now is None:
            return []
        fired = []
        for pending in list(state.pending):
            if pending.bar - 1 > now or not pending.ready:
                continue
            state.pending.remove(pending)
            if pending.bar <= now:
                newer = any(p.role == pending.role and p.bar == now + 1 for p in state.pending)
                self.ctx.emit(ev.ClipLate(role=pending.role, reason=f"Live was at bar {now} already", bar=pending.bar))
                self._off(pending.role, pending.bar, f"its clip was ready after bar {now} had begun")
                if newer:
                    continue
            self._fire(osc, pending)
            fired.append(pending)
        for bar in [b for b in state.plans if b < now]:
            del state.plans[bar]
        return fired

    async def _confirm_fires(self, osc: OscClient, fired: list[Pending]) -> None:
        """Each fire read back on its own (the track's triggered or playing slot; a slow answer for one track holds
        up no other) and sent again while Live shows neither: a lost ``fire`` would leave the track on its old
        clip. Firing a triggered clip again changes nothing."""

        async def one(pending: Pending) -> None:
            track = self.state.tracks[pending.role].index
            for _ in range(live.ATTEMPTS):
                if self.state.expect.get(pending.role) != (pending.bar, pending.slot):
                    return  # a later fire (or a resync) took over the track
                try:
                    replies = await live.gather(
                        osc.query("/live/track/get/fired_slot_index", track),
                        osc.query("/live/track/get/playing_slot_index", track),
                    )
                except OscError as exc:  # e.g. the track was deleted: the watchdog says whether Live is there
                    self._off(pending.role, pending.bar, f"its launch could not be read back: {exc}")
                    return
                triggered, playing = int(replies[0][0]), int(replies[1][0])
                if (triggered == -2 or playing < 0) if pending.slot < 0 else pending.slot in (triggered, playing):
                    return  # (-1 is "no fire pending": it never confirms a stop)
                self._send_fire(osc, pending)
            self._off(pending.role, pending.bar, "Live did not take its launch")

        await live.gather(*[one(p) for p in fired])

    def _bar_to_check(self) -> tuple[int, dict[str, int]] | None:
        """The bar Live began since the last check and the slot each track should play in it, taken before this
        step's fires (for the next bar) change what is expected; bars that began and ended unread are reported."""
        now = self.clock.set_bar()
        if now is None or now <= self._checked or now < 0:
            return None
        if self._checked >= 0:
            for bar in range(self._checked + 1, now):
                for role in sorted(self.state.expect):
                    self._off(role, bar, "Live was not read during this bar: what it played is not known")
        self._checked = now
        return now, {role: slot for role, (bar, slot) in self.state.expect.items() if bar <= now}

    async def _check_bar(self, osc: OscClient, now: int, due: dict[str, int]) -> None:
        """Once per bar, just after Live's bar line and beside the fires: what each track plays, against what was
        fired for it. Live's song time, read in the same tick, says whether the read came within the bar."""
        tracks = {role: self.state.tracks[role].index for role in due}
        try:
            transport, song_time, *replies = await live.gather(
                osc.query("/live/song/get/is_playing"),
                osc.query("/live/song/get/current_song_time"),
                *[osc.query("/live/track/get/playing_slot_index", t) for t in tracks.values()],
            )
        except OscError as exc:  # e.g. a track was deleted: the watchdog says whether Live is there
            for role in due:
                self._off(role, now, f"Live was not read during this bar ({exc}): what it played is not known")
            return
        self._transport = bool(transport[0])
        if not transport[0]:  # someone stopped Live: a fire would start it again; the watchdog applies the policy
            self._wake.set()
            return
        read_in = int(float(song_time[0])) // self.beats_per_bar - self.clock.origin
        for (role, slot), reply in zip(due.items(), replies, strict=True):
            playing = int(reply[0])
            if read_in != now:
                self._off(role, now, f"Live was read in bar {read_in}, not in this one: what it played is not known")
            elif playing != slot and not (slot < 0 and playing < 0):
                said = "nothing" if playing < 0 else f"slot {playing}"
                self._off(role, now, f"Live plays {said}, planned {'nothing' if slot < 0 else f'slot {slot}'}")
                if self.state.expect.get(role, (now, slot))[0] <= now:  # no later fire took the track over
                    self._send_fire(osc, Pending(now, role, slot))  # back on the set's clip from the next bar line

    def _off(self, role: str, bar: int, reason: str) -> None:
        self.ctx.log.warning("Live did not play a bar as planned", role=role, bar=bar, reason=reason)
        self.ctx.emit(ev.LiveBarOff(role=role, reason=reason, bar=bar))

    def _fire(self, osc: OscClient, pending: Pending) -> None:
        track = self.state.tracks[pending.role]
        live_bar = self.clock.live_bar
        self.ctx.emit(
            ev.ClipFired(role=pending.role, track=track.index, slot=pending.slot, live_bar=live_bar, bar=pending.bar)
        )
        self.state.expect[pending.role] = (pending.bar, pending.slot)
        self._send_fire(osc, pending)

    def _send_fire(self, osc: OscClient, pending: Pending) -> None:
        """Sent twice: a second fire (or stop) of the same slot in the same bar changes nothing in Live, and a
        launch lost on the way costs a read-back and half a bar, often too late for its bar line."""
        track = self.state.tracks[pending.role]
        for _ in range(2):
            if pending.slot < 0:
                osc.send("/live/track/stop_all_clips", track.index)
            else:
                osc.send("/live/clip_slot/fire", track.index, pending.slot)

    def _mix(self, osc: OscClient) -> None:
        """The bar Live plays now (or the latest planned before it, when its plan came late), on Live's faders: its
        tempo, and each sounding track's volume (at this beat: a fade moves it beat by beat) and pan, each sent only
        when it changed."""
        now = self.clock.set_bar()
        due = [b for b in self.state.plans if now is not None and b <= now]
        if not due:
            return
        plan = self.state.plans[max(due)]
        if now != self._mixed:  # each bar line sends the faders again: a set lost on the way is set now
            self._mixed = now
            for track in self.state.tracks.values():
                track.volume = track.pan = None
        self._tempo(osc, plan.bpm, max(due))
        levels = track_levels(plan, self.clock.tick / self.beats_per_bar)
        pans = _pans(plan)
        for role, track in self.state.tracks.items():
            if role in levels:
                volume = live_volume(levels[role])
                if volume != track.volume:
                    osc.send("/live/track/set/volume", track.index, volume)
                    track.volume = volume
            if role in pans and pans[role] != track.pan:
                osc.send("/live/track/set/panning", track.index, float(pans[role]))
                track.pan = pans[role]

    def _tempo(self, osc: OscClient, bpm: float, bar: int = 1 << 30) -> None:
        if bar < self._follow_from and bpm != self._followed:
            return  # planned before the set followed Live's tempo
        if bpm != self.state.tempo:
            self._tempi.append(round(bpm, 2))
            osc.send("/live/song/set/tempo", float(bpm))
            self.state.tempo = bpm
            self.clock.bar_seconds = self.beats_per_bar * 60.0 / bpm

    def _assign(self, upto: int) -> list[tuple[int, list[tuple[str, int, tuple[Note, ...], Pending]]]]:
        """Each planned bar up to ``upto`` not written yet: its tracks' slots taken from their rings and its
        ``Pending`` fires queued, at once and in bar order (no I/O), so a bar whose clip Live is slow to confirm
        never holds up the next bar's; the writes each bar still needs."""
        state = self.state
        bars = []
        while state.written < upto and state.written + 1 in state.plans:
            bar = state.written + 1
            notes = bar_notes(state.plans[bar], self.theory, relative=True)
            writes = []
            for role, track in state.tracks.items():
                wanted = notes.get(role, ())
                if wanted == track.scheduled:
                    continue
                track.scheduled = wanted
                if not wanted:
                    state.pending.append(Pending(bar, role, -1, ready=True))
                    continue
                slot = track.ring[track.next_slot % len(track.ring)]
                track.next_slot = (track.next_slot + 1) % len(track.ring)
                pending = Pending(bar, role, slot)
                writes.append((role, slot, wanted, pending))
                state.pending.append(pending)
            state.written = bar
            bars.append((bar, writes))
        return bars

    async def _write(self, osc: OscClient, upto: int) -> None:
        """Write the clips of every planned bar up to ``upto`` not written yet, all at once."""
        await live.gather(*[self._write_bar(osc, bar, writes) for bar, writes in self._assign(upto) if writes])

    async def _write_bar(
        self, osc: OscClient, bar: int, writes: list[tuple[str, int, tuple[Note, ...], Pending]]
    ) -> None:
        """The bar's clips, written at once; each is ready to fire once Live confirms it. One Live would not take
        is a bar off for its track (which plays on what it played), and the next bar writes it afresh."""
        beats = self.beats_per_bar
        for role, slot, notes, _ in writes:
            track, now = self.state.tracks[role].index, self.clock.live_bar
            self.ctx.emit(ev.ClipWritten(role=role, track=track, slot=slot, notes=len(notes), bar=bar, live_bar=now))

        async def one(role: str, slot: int, notes: tuple[Note, ...], pending: Pending) -> None:
            track = self.state.tracks[role]
            try:
                await live.write_clip(osc, track.index, slot, notes, beats, f"{role} {bar}")
            except OscError as exc:  # whether Live is there at all is the watchdog's to say, not a clip's
                if pending in self.state.pending:
                    self.state.pending.remove(pending)
                    track.scheduled = None
                    self._off(role, bar, str(exc))
                return
            pending.ready = True
            self._wake.set()

        await live.gather(*[one(*write) for write in writes])

    # --- the rlm brain's operations -------------------------------------------------------------------------------

    async def _operate(self, osc: OscClient) -> None:
        """Carry out the operations the tools asked for, one at a time, each answered: done, or error (Live refused
        it, did not answer, or is away). After each, and after every (re)connection, Live is read again."""
        state = self.state
        while True:
            await self._ops_wake.wait()
            self._ops_wake = trio.Event()
            if state.ok and state.snapshot_due:
                state.snapshot_due = False
                await self._snapshot(osc)
            while state.ops:
                op = state.ops[0]
                if not state.ok:
                    detail = "Live is not connected; the set plays on"
                    status = "error"
                else:
                    try:
                        status, detail = "done", await self._carry_out(osc, op)
                    except (OscError, OpFailed) as exc:
                        status, detail = "error", str(exc)
                    if state.ok:
                        await self._snapshot(osc)
                state.ops.pop(0)
                bar = max(state.played, 0)
                self.ctx.emit(ev.AbletonOpDone(op_id=op.op_id, status=status, detail=detail, bar=bar, cause=op.seq))

    async def _snapshot(self, osc: OscClient) -> None:
        try:
            snap = await live.snapshot(osc, self.state.browser)
        except OscError as exc:
            self.ctx.emit(ev.AbletonError(message=f"reading Live for the tools: {exc}", bar=max(self.state.played, 0)))
            return
        self.ctx.emit(msgspec.structs.replace(snap, bar=max(self.state.played, 0)))

    async def _carry_out(self, osc: OscClient, op: ev.AbletonOp) -> str:
        """One operation against Live; what Live answered, or ``OpFailed`` when it answered with ``/live/error``."""
        args, errors = op.args, len(self._errors)
        track = int(args.get("track", -1))
        if op.op == "create_track":
            (count,) = await osc.query("/live/song/get/num_tracks")
            osc.send("/live/song/create_midi_track", -1)
            osc.send("/live/track/set/name", int(count), str(args["name"]))
            (name,) = await osc.query("/live/track/get/name", int(count))
            detail = f"created MIDI track {int(count)} {name!r}"
        elif op.op == "delete_track":
            osc.send("/live/song/delete_track", track)
            detail = f"deleted track {track}"
        elif op.op == "load":
            osc.send("/live/view/set/selected_track", track)
            method = LOADERS[str(args["kind"])]
            try:
                reply = await osc.query(f"/live/browser/{method}", str(args["name"]), ids=0, timeout=2.0)
            except OscError:
                raise OpFailed(f"Live loaded nothing for {args['name']!r}") from None
            detail = f"loaded {reply[0] if reply else args['name']} on track {track}"
        elif op.op == "set_param":
            device, param = int(args["device"]), int(args["param"])
            osc.send("/live/device/set/parameter/value", track, device, param, float(args["value"]))
            (value,) = await osc.query("/live/device/get/parameter/value", track, device, param)
            detail = f"track {track} device {device} parameter {param} is {round(float(value), 4):g}"
        elif op.op == "mix":
            for key, address in (("volume", "/live/track/set/volume"), ("pan", "/live/track/set/panning")):
                if key in args:
                    osc.send(address, track, float(args[key]))
            volume, pan = await live.gather(
                osc.query("/live/track/get/volume", track), osc.query("/live/track/get/panning", track)
            )
            detail = f"track {track}: volume {round(float(volume[0]), 4):g}, pan {round(float(pan[0]), 4):g}"
        elif op.op == "fire_clip":
            osc.send("/live/clip_slot/fire", track, int(args["slot"]))
            detail = f"fired track {track} slot {int(args['slot'])}: it starts on the next bar line"
        elif op.op == "stop_clip":
            osc.send("/live/track/stop_all_clips", track)
            detail = f"track {track} stops on the next bar line"
        elif op.op == "fire_scene":
            scene = int(args["scene"])
            for kept in args.get("keep", ()):
                osc.send("/live/clip_slot/set/has_stop_button", int(kept), scene, False)
            osc.send("/live/scene/fire", scene)
            detail = f"fired scene {scene}: it starts on the next bar line (the set's own tracks play on)"
        elif op.op == "write_clip":
            slot, beats = int(args["slot"]), int(args["beats"])
            notes = [
                Note(int(p), round(float(s) * TICKS_PER_BEAT), round(float(d) * TICKS_PER_BEAT), int(v))
                for p, s, d, v in args["notes"]
            ]
            await live.write_clip(osc, track, slot, notes, beats, str(args.get("name") or "rlm clip"))
            detail = f"wrote {len(notes)} notes into track {track} slot {slot} ({beats} beats)"
        else:
            raise OpFailed(f"unknown operation {op.op!r}")
        await osc.query("/live/test")  # answered after everything sent before it: any /live/error has arrived
        if len(self._errors) > errors:
            raise OpFailed(f"Live said: {self._errors[errors]}")
        return detail

    # --- palette mode -----------------------------------------------------------------------------------------------

    async def _build_palette(self, osc: OscClient) -> None:
        """Write the grid into its rows (``AbletonState.rows``): row ``rows[i]`` holds scene ``i``'s clips, and
        nothing on the tracks it leaves silent. Idempotent: every slot of the rows is rewritten, and a set played
        again writes the same clips where they are."""
        writes = []
        for index, scene in enumerate(self.palette):
            row = self.state.rows[index]
            osc.send("/live/scene/set/name", row, scene.name)
            for role, track in self.state.tracks.items():
                notes = scene.clips.get(role, ())
                if not notes:
                    osc.send("/live/clip_slot/delete_clip", track.index, row)
                    continue
                ev_ = ev.ClipWritten(role=role, track=track.index, slot=row, notes=len(notes), live_bar=-1)
                self.ctx.emit(ev_)
                beats = scene.bars * self.beats_per_bar
                writes.append(live.write_clip(osc, track.index, row, notes, beats, f"{scene.name} {role}"))
        await live.gather(*writes)

    def _fire_scene(self, osc: OscClient) -> list[Pending]:
        """On a phrase boundary, during the bar before it, fire the scene that fits the plan's phase and energy.
        Back from a loss in mid-phrase, the phrase's scene is fired at once (it starts on the next bar line). Its
        row is fired track by track (each of the set's tracks its clip, or a stop): firing the scene itself would
        launch or stop the performer's own tracks in that row too. The fires, to be read back."""
        state, now = self.state, self.clock.set_bar()
        if now is None:
            return []
        phrase = self.ctx.scenario.conductor.phrase_bars
        due = [b for b in state.plans if b % phrase == 0 and state.scene_bar < b <= now + 1]
        if not due and state.scene_bar < 0 and now >= 0 and now + 1 in state.plans:
            due = [now + 1]
        if not due:
            return []
        bar = max(due)
        plan = state.plans[bar]
        index = scene_for(plan.phase, plan.energy)
        state.scene_bar = bar
        scene, row = self.palette[index], state.rows[index]
        at = max(bar, now + 1)
        self.ctx.emit(ev.SceneFired(scene=index, name=scene.name, live_bar=self.clock.live_bar, row=row, bar=at))
        fired = [Pending(at, role, row if role in scene.clips else -1, ready=True) for role in state.tracks]
        for pending in fired:
            self._fire(osc, pending)
        for old in [b for b in state.plans if b < now]:
            del state.plans[old]
        return fired

    async def _write_prompt_clip(self, osc: OscClient, clip: ev.ClipAdded) -> None:
        """A prompt's clip into the track it names (else its role's) at its slot (else the first empty one past
        the ring live mode cycles through, adding a scene when the track is full). Not fired: it waits in Live."""
        bar = max(self.state.played, 0)
        if clip.track:
            now = await live.status(osc)
            found = [t.index for t in now.tracks if t.name.lower() == clip.track.lower()]
            if not found:
                names = ", ".join(t.name for t in now.tracks)
                self.ctx.emit(ev.AbletonError(message=f"clip: no track named {clip.track!r} ({names})", bar=bar))
                return
            track = found[0]
        elif clip.role in self.state.tracks:
            track = self.state.tracks[clip.role].index
        else:
            self.ctx.emit(ev.AbletonError(message=f"clip: no {clip.role} track in Live", bar=bar))
            return
        ring = {t.index: t.ring for t in self.state.tracks.values()}.get(track, ())
        slot = clip.slot if clip.slot >= 0 else await _free_slot(osc, track, ring)
        beats = clip.bars * self.beats_per_bar
        await live.write_clip(osc, track, slot, clip.notes, beats, clip.prompt[:60] or f"{clip.role} clip")
        self.ctx.emit(
            ev.ClipWritten(
                role=clip.role,
                track=track,
                slot=slot,
                notes=len(clip.notes),
                live_bar=self.clock.live_bar,
                bar=bar,
                cause=clip.seq,
            )
        )


async def _free_slot(osc: OscClient, track: int, ring: tuple[int, ...]) -> int:
    """The first slot outside the ring that holds no clip; a new scene when every one does."""
    (scenes,) = await osc.query("/live/song/get/num_scenes")
    slots = [s for s in range(int(scenes)) if s not in ring]
    taken = await live.gather(*[osc.query("/live/clip_slot/get/has_clip", track, slot) for slot in slots])
    for slot, reply in zip(slots, taken, strict=True):
        if not reply[-1]:
            return slot
    osc.send("/live/song/create_scene", -1)
    (scenes,) = await osc.query("/live/song/get/num_scenes")
    return int(scenes) - 1


async def _or_end(failed: list[Exception], cancel: trio.CancelScope, task: Any, *args: Any) -> None:
    """``task(*args)`` as one of a session's tasks: Live lost (or not answering) ends the session, the other tasks
    with it, and is kept in ``failed`` to be raised as itself."""
    try:
        await task(*args)
    except (Lost, OscError) as exc:
        failed.append(exc)
        cancel.cancel()


def _pans(plan: BarPlan) -> dict[str, float]:
    """Each track's pan: the mean pan of the layers it plays."""
    sums: dict[str, list[float]] = {}
    for layer in plan.layers:
        role = track_for(layer)
        if role is not None:
            sums.setdefault(role, []).append(layer.pan)
    return {role: round(sum(p) / len(p), 3) for role, p in sums.items()}


def _setup_detail(result: live.SetupResult, missing: str = "") -> str:
    parts = [missing] if missing else []
    if result.created:
        parts.append("created tracks " + ", ".join(result.created))
    if result.abandoned:
        parts.append("abandoned " + "; ".join(result.abandoned))
    if result.loaded:
        parts.append("loaded " + ", ".join(f"{r}: {n}" for r, n in result.loaded.items()))
    if result.to_load:
        parts.append("load by hand " + ", ".join(f"{r}: {n}" for r, n in result.to_load.items()))
    return "; ".join(parts) or "tracks and instruments in place"
