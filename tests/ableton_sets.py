"""Helpers for sets played into the AbletonOSC peer: run one, and read what Live played against what was planned."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import trio

from bergain_actors.actors.streamer.sinks import OfflineSink
from bergain_actors.core import events as ev
from bergain_actors.music.notes import bar_notes
from bergain_actors.music.plan import TICKS_PER_BEAT
from bergain_actors.music.theory import set_theory
from bergain_actors.performance import SetResult, perform
from tests.ableton_peer import Peer
from tests.conftest import make_scenario


def ableton_scenario(tmp_path: Path, peer: Peer | None, port: int = 0, reply_port: int = 0, **changes: Any):
    ableton: dict[str, Any] = {"kind": "osc", "port": port, "reply_port": reply_port}
    if peer is not None:
        ableton.update(port=peer.port, reply_port=peer.reply_port)
    ableton.update(changes.pop("ableton", {}))
    changes.setdefault("bpm", 180)  # a bar of 1.33 s: fast, with room for a peer starved by a loaded machine
    return make_scenario(tmp_path, ableton=ableton, streamer={"output": False}, **changes)


def play(scenario, tmp_path: Path, during=None, controls=None) -> SetResult:
    """Play the set in real time (Live runs on real time); ``during(events)`` may inject faults, ``controls(desk)``
    type commands."""

    async def main() -> SetResult:
        events: list[ev.Event] = []
        with trio.fail_after(600):
            return await _run(events)

    async def _run(events: list[ev.Event]) -> SetResult:
        async with trio.open_nursery() as nursery:
            if during is not None:
                nursery.start_soon(during, events)
            result = await perform(
                scenario,
                "",
                log_path=tmp_path / "set.bgnlog",
                wav_path=tmp_path / "set.wav",
                sink=OfflineSink(),
                keep_events=True,
                on_event=events.append,
                controls=controls,
            )
            nursery.cancel_scope.cancel()
        return result

    return trio.run(main)


def wait_for_peer(peer: Peer, tracks: dict[str, int], deadline_s: float = 60) -> list[dict[str, Any]]:
    """The peer's events once every one of our tracks has stopped: at the end of a set its clips stop on the bar
    line after the last bar (Live itself plays on)."""
    ours = set(tracks.values())
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        events = peer.events()
        last: dict[int, str] = {}
        for e in events:
            if e["event"] in ("clip_launched", "clip_stopped") and e.get("track") in ours:
                last[e["track"]] = e["event"]
        if last and all(kind == "clip_stopped" for kind in last.values()):
            return events
        time.sleep(0.1)  # waiting on another process's file; nothing in-process to wait on
    raise AssertionError("Live's clips never stopped after the set")


def expected_notes(result: SetResult, scenario, origin: int, bars: range) -> list[tuple[int, str, int, float, int]]:
    """(bar, role, pitch, song time, velocity) of every note the plans of ``bars`` ask for."""
    theory = set_theory(scenario.seed, scenario.key)
    beats = scenario.beats_per_bar
    out = []
    for event in result.events:
        if isinstance(event, ev.BarPlanned) and event.plan.bar in bars:
            for role, notes in bar_notes(event.plan, theory, relative=True).items():
                for n in notes:
                    t = (origin + event.plan.bar) * beats + n.start / TICKS_PER_BEAT
                    out.append((event.plan.bar, role, n.pitch, t, n.velocity))
    return out


def played_notes(events: list[dict[str, Any]], tracks: dict[str, int], lo: float, hi: float):
    """(role, pitch, song time, velocity) of the notes Live played on our tracks between song times lo and hi."""
    role_of = {index: role for role, index in tracks.items()}
    return [
        (role_of[e["track"]], e["pitch"], e["song_time"], e["velocity"])
        for e in events
        if e["event"] == "note" and e["track"] in role_of and lo <= e["song_time"] < hi
    ]


def match_notes(expected, played, step: float) -> tuple[list, list]:
    """Pair each played note with its planned one: of the same role, pitch and velocity, the latest planned up to
    ``step`` beats before it was reported (the peer reports a note at the end of the engine step that played it,
    and a step stretches when the loaded machine stalls the peer; a note is never reported early). Taking the
    latest, not the earliest, keeps one missing note from shifting every later pairing by a note. A clip a bar
    off misses by 4 beats. Returns what is left: planned notes not played, played notes not planned."""
    waiting: dict[tuple, list] = {}
    for note in sorted(expected, key=lambda e: e[3]):
        waiting.setdefault((note[1], note[2], note[4]), []).append(note)
    extra = []
    for heard in sorted(played, key=lambda p: p[2]):
        role, pitch, when, velocity = heard
        notes = waiting.get((role, pitch, velocity), [])
        due = [i for i, note in enumerate(notes) if when - step <= note[3] <= when + 1e-3]
        if due:
            del notes[due[-1]]
        else:
            extra.append(heard)
    missing = sorted((n for notes in waiting.values() for n in notes), key=lambda e: e[3])
    return missing, extra


def bars_exact(result: SetResult, scenario, events: list[dict[str, Any]], tracks: dict[str, int], origin: int, bars):
    """The bars of ``bars`` whose every planned note Live played, and no other note on our tracks (note for note
    against the peer's log). The notes are paired over all of ``bars`` at once: a note the peer reports just after
    a bar line (its engine step stalled across it) still pairs with its own bar's planned note; a planned note left
    over counts against its bar, a played one against the bar it was reported in."""
    bars = range(bars.start, bars.stop)
    expected = expected_notes(result, scenario, origin, bars)
    heard = played_notes(events, tracks, (origin + bars.start) * 4, (origin + bars.stop) * 4 + 0.75)
    missing, extra = match_notes(expected, heard, step=0.75)
    off = {m[0] for m in missing} | {int(t // 4) - origin for _r, _p, t, _v in extra}
    return [bar for bar in bars if bar not in off]


def live_tracks(port: int, reply_port: int = 0) -> list[str]:
    """The names of Live's tracks now, asked over OSC at ``port`` from ``reply_port`` (the peer's, once the set's
    client is gone; or any, through a proxy, which answers whoever sent last)."""
    from bergain_actors.actors.ableton import live
    from bergain_actors.actors.ableton.osc import OscClient
    from tests.ableton_peer import free_udp_port

    async def ask() -> list[str]:
        async with OscClient("127.0.0.1", port, reply_port or free_udp_port(), timeout=1.0, retries=8) as osc:
            return [t.name for t in (await live.status(osc)).tracks]

    return trio.run(ask)


class SharedRun(msgspec.Struct):
    """A set played into the peer with someone else on the line, and what Live did."""

    result: SetResult
    scenario: Any
    tracks: dict[str, int]
    events: list[dict[str, Any]]
    """The peer's event log once our clips stopped."""
    origin: int
    names: list[str] = []
    """Live's track names after the set (the lossy run)."""

    def exact(self, bars: range) -> list[int]:
        return bars_exact(self.result, self.scenario, self.events, self.tracks, self.origin, bars)

    def missing(self, bars: range) -> tuple[int, int]:
        """(planned notes Live did not play, planned notes) over ``bars``."""
        expected = expected_notes(self.result, self.scenario, self.origin, bars)
        lo, hi = (self.origin + bars.start) * 4, (self.origin + bars.stop) * 4 + 0.75  # see ``bars_exact``
        return len(match_notes(expected, played_notes(self.events, self.tracks, lo, hi), step=0.75)[0]), len(expected)


def lossy_run(tmp_path: Path, peer: Peer, *, bars: int, seed: int, drop: float):
    """A set through a ``LossyProxy`` dropping ``drop`` each way (seeded), at 120 BPM; returns the run and the
    proxy (its counts)."""
    from tests.ableton_peer import free_udp_port
    from tests.lossy_udp import LossyProxy

    proxy = LossyProxy(peer.port, peer.reply_port, drop=drop, seed=seed).start()
    try:
        scenario = ableton_scenario(
            tmp_path, None, port=proxy.port, reply_port=free_udp_port(), bars=bars, bpm=120, seed=seed
        )
        return _finish(scenario, tmp_path, peer, names_at=proxy.port), proxy
    finally:
        proxy.stop()


def second_client_run(tmp_path: Path, peer: Peer, *, bars: int):
    """A set beside a ``SecondClient`` polling ``/live/song/get/*`` every 100 ms; returns the run and the client."""
    from tests.lossy_udp import SecondClient

    other = SecondClient(peer.port).start()
    try:
        return _finish(ableton_scenario(tmp_path, peer, bars=bars, bpm=120), tmp_path, peer), other
    finally:
        other.stop()


def _finish(scenario, tmp_path: Path, peer: Peer, names_at: int = 0) -> SharedRun:
    result = play(scenario, tmp_path)
    tracks = next(e for e in result.events if isinstance(e, ev.AbletonStatus)).tracks
    events = wait_for_peer(peer, tracks)
    origin = [e for e in result.events if isinstance(e, ev.LiveBeat)][-1].origin
    names = live_tracks(names_at) if names_at else []
    return SharedRun(result, scenario, tracks, events, origin, names)
