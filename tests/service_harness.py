"""A set playing in real time (on trio's clock, at the speed of a device) with the HTTP API beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.core import events as ev
from bergain_actors.core.scenario import Scenario
from bergain_actors.performance import SetResult, perform, set_paths
from bergain_actors.service.frontend import HttpFrontend

SCRIPTS = Path(__file__).resolve().parent / "service_scripts"
SCRIPTED = {"providers": [{"name": "scripted", "kind": "scripted", "script": str(SCRIPTS / "answers.json")}]}


class LiveSet:
    def __init__(self, http: HttpFrontend, log_path: Path, wav_path: Path) -> None:
        self.http = http
        self.log_path = log_path
        self.wav_path = wav_path
        self.events: list[ev.Event] = []
        self.result: SetResult | None = None
        self.ended = trio.Event()
        self._bars: dict[int, trio.Event] = {}

    @property
    def url(self) -> str:
        return self.http.url

    def seen(self, event: ev.Event) -> None:
        self.events.append(event)
        if isinstance(event, ev.BarPlayed):
            for bar in [b for b in self._bars if b <= event.bar]:
                self._bars.pop(bar).set()

    async def bar(self, bar: int) -> None:
        """Wait until bar ``bar`` has been played."""
        if any(isinstance(e, ev.BarPlayed) and e.bar >= bar for e in self.events):
            return
        await self._bars.setdefault(bar, trio.Event()).wait()

    def latest(self) -> int:
        """The latest bar played (-1 before the first)."""
        return max((e.bar for e in self.events if isinstance(e, ev.BarPlayed)), default=-1)

    def of(self, kind: type[ev.Event]) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@asynccontextmanager
async def live_set(scenario: Scenario, out: Path, token: str | None = None, host: str = "127.0.0.1"):
    """Play ``scenario`` on a clock-paced sink with the API on a free port; the set is cancelled on exit unless it
    ended by itself. Yields a ``LiveSet``."""
    http = HttpFrontend(host, 0, token, announce=False)
    log_path, wav_path = set_paths(scenario, out, stamp="api")
    live = LiveSet(http, log_path, wav_path)

    async def play() -> None:
        try:
            live.result = await perform(
                scenario,
                "",
                log_path=log_path,
                wav_path=wav_path,
                sink=ClockSink(scenario.sample_rate),
                on_event=live.seen,
                before_start=http.attach,
                beside=http,
            )
        finally:
            live.ended.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(play)
        with trio.fail_after(30):
            await http.bound.wait()
        yield live
        nursery.cancel_scope.cancel()


async def sse_events(client, count: int) -> AsyncIterator[dict]:
    """The first ``count`` events from ``/events``."""
    import json

    async with client.stream("GET", "/events") as stream:
        got = 0
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])
                got += 1
                if got >= count:
                    return
