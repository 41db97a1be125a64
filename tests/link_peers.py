"""Run by tests/test_link.py inside a private network namespace: our set (real time, clock-paced) and a second
Ableton Link peer in one process (``python -m tests.link_peers OUT`` from the repository). Prints one JSON object:
what the other peer saw at each of our bar starts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import link
import trio

from bergain_actors.actors.conductor.autopilot import Autopilot
from bergain_actors.actors.streamer.link_session import LinkSession
from bergain_actors.actors.streamer.sinks import ClockSink, DeviceSink
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.logging import configure
from bergain_actors.performance import perform, set_paths
from tests.conftest import make_scenario

BARS = 18
THEIRS_AT, THEIR_TEMPO = 6, 132.0
"""At our bar 6's placing, the other peer moves the session to 132 BPM."""
OURS_FROM, OUR_TEMPO = 13, 136.0
"""From bar 13 on, our Conductor plans at 136 BPM: the other peer must hear of it."""


class TempoChanger(Autopilot):
    """The autopilot, but it moves the tempo itself from ``OURS_FROM`` on."""

    kind = "tempo_changer"

    def plan_bar(self, bar: int) -> None:
        if bar >= OURS_FROM:
            self.bpm = OUR_TEMPO
        super().plan_bar(bar)


registry.register("conductor", "tempo_changer", TempoChanger)


def main(out: Path, bars_wanted: int, device: bool) -> None:
    peer = link.Link(128.0)
    peer.enabled = True
    ours = LinkSession(128.0, 4)  # the set's own peer (one per process): let the two find each other first
    found = time.monotonic() + 10
    while ours.peers() < 1 and time.monotonic() < found:
        time.sleep(0.01)  # Link discovers on its own threads; nothing to wait on but its count
    if ours.peers() < 1:
        print(json.dumps({"blocked": "the two Link peers did not find each other on loopback within 10 s"}))
        return
    link_on = {"enabled": True, "quantum": 4}
    scenario = make_scenario(out, bars=bars_wanted, link=link_on, conductor={"kind": "tempo_changer"})
    sink = DeviceSink.open("", 44100) if device else ClockSink(44100)
    assert not isinstance(sink, str), sink
    log_path, wav_path = set_paths(scenario, out, stamp="link")
    bars: list[dict] = []
    plans: dict[int, float] = {}

    def watch(event: ev.Event) -> None:
        if isinstance(event, ev.BarPlanned):
            plans[event.plan.bar] = event.plan.bpm
        if not isinstance(event, ev.LinkBeat):
            return
        state = peer.captureAppSessionState()  # the other peer's view of the session, on Link's own clock
        phase = state.phaseAtTime(event.micros, 4)
        off_beats = min(phase, 4 - phase)
        bars.append(
            {
                "bar": event.bar,
                "shift_ms": event.shift_ms,
                "tempo": event.tempo,
                "peers": event.peers,
                "session_tempo": state.tempo(),
                "phase_error_ms": off_beats * 60_000 / state.tempo(),
            }
        )
        if event.bar == THEIRS_AT:
            state.setTempo(THEIR_TEMPO, peer.clock().micros())
            peer.commitAppSessionState(state)

    result = trio.run(lambda: perform(scenario, "", log_path=log_path, wav_path=wav_path, sink=sink, on_event=watch))
    peers_seen = peer.numPeers()
    peer.enabled = False
    time.sleep(0.2)  # let Link's threads settle before the interpreter goes (see the reference's pitfall)
    print(
        json.dumps(
            {
                "bars": bars,
                "plans": plans,
                "log": str(log_path),
                "wav": str(wav_path),
                "played": result.summary.bars_played,
                "peers": peers_seen,
            }
        )
    )


if __name__ == "__main__":
    configure()  # warnings (a server xrun) on stderr: stdout is the one JSON object
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else BARS, "--device" in sys.argv)
