"""A ProviderRouter on a real Bus, outside the supervisor: publish events in, collect what it publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from bergain_actors.actors.router.actor import ProviderRouter
from bergain_actors.core import events as ev
from bergain_actors.core.actor import SLOT_ORDER, ActorContext, SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.scenario import from_builtins

E = TypeVar("E", bound=ev.Event)


class Harness:
    def __init__(self, router: dict[str, Any], *, fast: bool = False, bpm: float = 240.0) -> None:
        scenario = from_builtins({"bpm": bpm, "router": router})
        self.set = SetContext(scenario, fast=fast, total_bars=64)
        self.bus = Bus(wall_clock=False)
        self.events: list[ev.Event] = []
        self._published = trio.Event()
        self.bus.taps.append(self._tap)
        self.router = ProviderRouter(ActorContext("router", self.bus, self.set), scenario.router)
        self.bus.attach("router", self.router, SLOT_ORDER)
        self._ids = 0

    def _tap(self, event: ev.Event) -> None:
        self.events.append(event)
        self._published.set()
        self._published = trio.Event()

    def start_set(self) -> None:
        meter = self.set.meter
        self.bus.publish(
            ev.SetStarted(
                name="t",
                seed=0,
                bpm=meter.bpm,
                beats_per_bar=meter.beats_per_bar,
                total_bars=64,
                sample_rate=44100,
                lookahead_bars=2,
                fast=self.set.fast,
            ),
            source="supervisor",
        )

    def request(self, **fields: Any) -> str:
        self._ids += 1
        request_id = fields.pop("request_id", f"r{self._ids}")
        messages = fields.pop("messages", ({"role": "user", "content": "one phrase decision"},))
        self.bus.publish(
            ev.LMRequest(request_id=request_id, purpose=fields.pop("purpose", "phrase"), messages=messages, **fields),
            source="conductor",
        )
        return request_id

    async def wait_for(self, kind: type[E], where: Callable[[E], bool] = lambda e: True) -> E:
        """The first published event of ``kind`` matching ``where`` (waits for it: no polling, no sleeps)."""
        seen = 0
        while True:
            for event in self.events[seen:]:
                if isinstance(event, kind) and where(event):
                    return event
            seen = len(self.events)
            await self._published.wait()

    async def answer(self, request_id: str) -> ev.LMResponse | ev.LMFailed:
        return await self.wait_for(
            (ev.LMResponse, ev.LMFailed),
            lambda e: e.request_id == request_id,  # type: ignore[arg-type]
        )

    async def ask(self, **fields: Any) -> ev.LMResponse | ev.LMFailed:
        return await self.answer(self.request(**fields))

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def transitions(self, provider: str) -> list[tuple[str, str]]:
        return [(e.old, e.new) for e in self.of(ev.ProviderStateChanged) if e.provider == provider]


@asynccontextmanager
async def running(router: dict[str, Any], **options: Any) -> AsyncIterator[Harness]:
    """The router running (its ``run`` task and nursery open) with the set started."""
    harness = Harness(router, **options)
    try:
        async with trio.open_nursery() as nursery:
            harness.router.ctx.nursery = nursery
            nursery.start_soon(harness.router.run, None)
            harness.start_set()
            yield harness
            nursery.cancel_scope.cancel()
    finally:
        harness.router.close()


def provider(name: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "openai", "base_url": url, "timeout_s": 5.0, **fields}
