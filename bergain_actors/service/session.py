"""The API's handle on a running set, or on the ProviderRouter alone (``serve`` without a set, ``clip``, ``ask``).

Everything the API changes goes through ``publish``: an event on the set's bus, logged before it takes effect,
so a set steered over HTTP replays exactly. LM calls are ``LMRequest`` events answered by the router like the
Conductor's own; the answer is in the log before the API reads it. Safe to call only from the trio thread.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from bergain_actors.actors.conductor.base import tempo_limits
from bergain_actors.control import Desk
from bergain_actors.core import events as ev
from bergain_actors.core.actor import SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.scenario import Scenario
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.service.replies import ProviderView
from bergain_actors.service.stream import EventStream
from bergain_actors.service.view import SetView

SOURCE = "control"
"""Requests from outside enter the bus as the control slot's, like a typed command."""


class NoRouter(Exception):
    """This set has no LM router (an autopilot set without providers)."""

    MESSAGE = "this set has no LM router: add [router] providers to the scenario"


class Session:
    def __init__(self, supervisor: Supervisor, *, plays: bool = True) -> None:
        self.supervisor = supervisor
        self.bus: Bus = supervisor.bus
        self.plays = plays
        """Whether a set is playing (False: the router alone)."""
        self.desk = Desk(self.bus, tempo_limits=tempo_limits(self.scenario.bpm) if plays else None)
        """Where ``/control`` commands enter the set, as typed ones do (the front ends share the language)."""
        self.view = self._view()
        self.stream = EventStream()
        self.started = time.monotonic()
        self._ids = itertools.count(1)
        self._waiting: dict[str, trio.MemorySendChannel[ev.LMResponse | ev.LMFailed]] = {}
        self.bus.taps += [self.view.add, self.stream.publish, self._answered]

    @property
    def scenario(self) -> Scenario:
        return self.supervisor.set.scenario

    def _view(self) -> SetView:
        from bergain_actors.music.theory import set_theory

        if not self.plays:
            return SetView()
        scenario = self.scenario
        key = set_theory(scenario.seed, scenario.key or None).key
        return SetView(key, scenario.conductor.phrase_bars, tempo_limits(scenario.bpm))

    def publish(self, event: ev.Event) -> ev.Event:
        """Log ``event`` and let it take effect; returns it with its seq."""
        return self.bus.publish(event, source=SOURCE)

    def request_id(self, kind: str) -> str:
        return f"http:{kind}:{next(self._ids)}"

    # --- the router -----------------------------------------------------------------------------------------------

    def router(self) -> Any:
        """The running ``ProviderRouter``, or None."""
        return self.supervisor.actors.get("router")

    def providers(self) -> list[ProviderView]:
        """Provider rows for ``GET /providers``: the view's circuits and latencies, the router's cooldowns."""
        rows = self.view.providers_view()
        router = self.router()
        if router is None:
            return rows
        now = trio.current_time()
        for index, row in enumerate(rows):
            slot = router.slots.get(row.name)
            if slot is None:
                continue
            breaker, config = slot.breaker, slot.provider.config
            left = breaker.open_until - now if breaker.state == "open" else 0.0
            retry = None if math.isinf(left) else round(max(0.0, left), 1)
            rows[index] = msgspec.structs.replace(
                row, kind=config.kind, model=config.model, failures=breaker.failures, retry_in_s=retry
            )
        return rows

    async def ask_lm(
        self,
        purpose: str,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any] | None = None,
        grammar: str = "",
        max_tokens: int = 256,
        temperature: float = 0.0,
        timeout: float = 60.0,
    ) -> ev.LMResponse | ev.LMFailed:
        """One LM call through the router, logged as request and answer. Raises ``NoRouter``."""
        request = ev.LMRequest(
            request_id=self.request_id(purpose),
            purpose=purpose,
            messages=tuple(messages),
            response_schema=schema,
            grammar=grammar,
            max_tokens=max_tokens,
            temperature=temperature,
            best_effort=True,
            bar=max(self.view.bar, 0),
        )
        return await self.send(request, timeout=timeout)

    async def send(self, request: ev.LMRequest, *, timeout: float = 60.0) -> ev.LMResponse | ev.LMFailed:
        """Publish ``request`` (its id from ``request_id``) and wait for its answer. Raises ``NoRouter``."""
        if self.router() is None:
            raise NoRouter(NoRouter.MESSAGE)
        request_id = request.request_id
        send, receive = trio.open_memory_channel[ev.LMResponse | ev.LMFailed](1)
        self._waiting[request_id] = send
        try:
            self.publish(request)
            with trio.move_on_after(timeout):
                return await receive.receive()
            return ev.LMFailed(request_id=request_id, reason=f"no answer within {timeout:g} s")
        finally:
            del self._waiting[request_id]

    def _answered(self, event: ev.Event) -> None:
        if isinstance(event, ev.LMResponse | ev.LMFailed):
            waiter = self._waiting.get(event.request_id)
            if waiter is not None:
                waiter.send_nowait(event)


@asynccontextmanager
async def router_session(scenario: Scenario) -> AsyncIterator[Session]:
    """The scenario's ProviderRouter on its own bus (no set, no log), for ``serve`` without a set and the CLI."""
    set_ctx = SetContext(scenario, fast=True, total_bars=0)
    bus = Bus()
    supervisor = Supervisor(bus, set_ctx, ("router",))
    supervisor.create_all()
    session = Session(supervisor, plays=False)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.committer)
        supervisor.start(nursery)
        try:
            yield session
        finally:
            supervisor.close()
            nursery.cancel_scope.cancel()
