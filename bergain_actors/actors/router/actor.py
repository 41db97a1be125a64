"""The ProviderRouter: every LM request of the set, with failover, circuit breakers and musical deadlines.

An edge actor (``deciding = False``): ``handle`` only starts work, a task per request does the HTTP and publishes
what came back (``LMResponse`` / ``LMFailed``), so the world's answers are in the log before anyone uses them; on
``replay --verify`` those events are served from the log and this actor is never built.

Deadlines: a request's ``deadline_bar`` is mapped to trio time from the latest ``BarPlayed`` (bar N consumed at T:
bar D is due at T + (D - N - 1) bars). Each attempt gets at most an even share of the time left with the providers
after it that could answer, so a hanging provider cannot starve the next one; a call cut off is a slow-call failure
for its provider (three open its circuit); when no provider can answer in time the caller hears so at once. In
fast mode the streamer waits for decisions, so only each provider's ``timeout_s`` applies, and a local server that
is booting or restarting is waited for.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import anyio
import msgspec
import trio

from bergain_actors.actors.router.breaker import Breaker, Transition
from bergain_actors.actors.router.detect import autodetect
from bergain_actors.actors.router.local import LIVE_NICE, LocalServer, Status
from bergain_actors.actors.router.providers import (
    Answer,
    ConfigError,
    HTTPProvider,
    LocalProvider,
    Provider,
    ProviderError,
    build,
    check_json,
)
from bergain_actors.actors.router.secrets import Secrets
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.core.clock import Meter
from bergain_actors.core.scenario import ProviderConfig, RouterConfig

MAX_ANSWER_CHARS = 256 * 1024
"""Longer LM answers are cut (``LMAnswerCapped``): at 4 bytes a character at most 1 MiB, far inside a log record."""


class Slot:
    """One provider as the router holds it: the provider, its circuit, its child process if local."""

    def __init__(self, provider: Provider, breaker: Breaker, server: LocalServer | None) -> None:
        self.provider = provider
        self.breaker = breaker
        self.server = server


class ProviderRouter(Actor):
    kind = "router"
    subscribes = (ev.SetStarted, ev.BarPlayed, ev.LMRequest, ev.ProviderControl)
    deciding = False

    def __init__(self, ctx: ActorContext, config: RouterConfig) -> None:
        super().__init__(ctx, config)
        self.config: RouterConfig = config
        self.slots: dict[str, Slot] = {}
        self.order: list[str] = []
        """Failover order, preferred first."""
        self.excluded: dict[str, str] = {}
        self._bar_seconds = float(ctx.set.meter.bar_seconds)
        self._fast = ctx.set.fast
        self._anchor: tuple[int, float] | None = None
        """(latest bar played, trio time it was played); bar -1 is the start of the set."""
        self._bar = 0
        self._running = False
        self._pending: list[tuple[ev.LMRequest, float]] = []
        """Requests that arrived before ``run`` opened the nursery (they are served as soon as it does)."""
        self.unscored: set[str] = set()
        """Providers that answered a choice without probabilities (said once each)."""
        self.secrets = Secrets()
        """Every configured API key: redacted from each event and log line the router makes."""
        for provider in config.providers:
            self._add(provider)

    # --- the bus --------------------------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LMRequest):
            deadline = self._deadline(event)
            if self._running:
                self.ctx.spawn(self._serve, event, deadline)
            else:
                self._pending.append((event, deadline))
        elif isinstance(event, ev.BarPlayed):
            self._anchor = (event.bar, trio.current_time())
            self._bar = event.bar
        elif isinstance(event, ev.SetStarted):
            self._bar_seconds = float(Meter(event.bpm, event.beats_per_bar).bar_seconds)
            self._fast = event.fast
            self._anchor = (-1, trio.current_time())
        elif isinstance(event, ev.ProviderControl):
            self._control(event)

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        started, played = last.get(ev.SetStarted), last.get(ev.BarPlayed)
        if isinstance(started, ev.SetStarted):
            self.handle(started)
        if isinstance(played, ev.BarPlayed):
            self.handle(played)

    async def run(self, inbox: trio.MemoryReceiveChannel[ev.Event] | None) -> None:
        self._running = True
        try:
            for name in self.order:
                self._start(name)
            self._health()
            for request, deadline in self._pending:
                self.ctx.spawn(self._serve, request, deadline)
            self._pending.clear()
            if self.config.auto:
                found = await autodetect(self.config)
                for config in found:
                    if config.name not in self.slots:
                        self._add(config)
                        self._start(config.name)
                if found:
                    self._health()
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                for slot in list(self.slots.values()):
                    await slot.provider.aclose()

    def close(self) -> None:
        for slot in self.slots.values():
            if slot.server is not None:
                slot.server.kill_now()

    # --- one request ----------------------------------------------------------------------------------------------

    def _deadline(self, request: ev.LMRequest) -> float:
        """The trio time by which ``request`` must be answered (inf: no musical deadline)."""
        if self._fast or request.deadline_bar < 0:
            return math.inf
        bar, at = self._anchor or (-1, trio.current_time())
        return at + (request.deadline_bar - bar - 1) * self._bar_seconds

    def _route(self, request: ev.LMRequest) -> list[str]:
        order = list(self.order)
        if request.model in self.slots:
            order.remove(request.model)
            order.insert(0, request.model)
        return order

    def _worth_waiting(self, slot: Slot, later: list[str]) -> bool:
        """Offline, whether to wait for a provider that is not ready: always for a local server's first boot (the
        set then plays on the LM it asked for); for its restart after a crash only when no later provider could
        answer meanwhile."""
        if getattr(slot.provider, "state", "") == "starting":
            return True
        return not any(name in self.slots and not self.slots[name].provider.not_ready for name in later)

    async def _serve(self, request: ev.LMRequest, deadline: float) -> None:
        started = trio.current_time()
        attempts: list[str] = []
        late = False
        route = self._route(request)
        for index, name in enumerate(route):
            slot = self.slots.get(name)
            if slot is None:
                continue
            now = anyio.current_time()
            if now >= deadline:
                late = True
                break
            if slot.provider.not_ready and self._fast and self._worth_waiting(slot, route[index + 1 :]):
                # offline the music waits for decisions: let a local server that is booting come up
                with trio.move_on_at(min(deadline, now + slot.provider.config.timeout_s)):
                    await slot.provider.wait_ready()
                now = anyio.current_time()
            if slot.provider.not_ready:
                attempts.append(f"{name}: {slot.provider.not_ready}")
                continue
            permit, moved = slot.breaker.admit(now)
            self._report(name, moved, request.seq)
            if permit is None:
                attempts.append(f"{name}: circuit {slot.breaker.state}")
                continue
            try:
                answer = await self._call(slot, request, self._attempt_limit(slot, route[index + 1 :], now, deadline))
            except ProviderError as exc:
                attempts.append(f"{name}: {exc}")
                if exc.counts and not request.best_effort:
                    moved = slot.breaker.failed(anyio.current_time(), str(exc), permit, exc.retry_after)
                    self._report(name, moved, request.seq)
                    continue
                slot.breaker.release(permit)
                if exc.counts:  # best effort: no verdict on the provider, try the next one
                    continue
                self._failed(request, f"caller error at {name}: {exc.detail}", attempts)
                return
            except BaseException:  # cancelled (the set ends): no verdict on the provider
                slot.breaker.release(permit)
                raise
            self._report(name, slot.breaker.succeeded(permit), request.seq)
            if request.score and not answer.scores and name not in self.unscored:
                self.unscored.add(name)
                self._warn("provider gives no probabilities: its choices are its constrained answers", provider=name)
            text = answer.text
            if len(text) > MAX_ANSWER_CHARS:
                capped = ev.LMAnswerCapped(
                    request_id=request.request_id, provider=name, chars=len(text), kept=MAX_ANSWER_CHARS
                )
                self._emit(msgspec.structs.replace(capped, bar=self._bar, cause=request.seq))
                text = text[:MAX_ANSWER_CHARS]
            self._emit(
                ev.LMResponse(
                    request_id=request.request_id,
                    provider=name,
                    text=text,
                    latency_ms=round((trio.current_time() - started) * 1000, 3),
                    prompt_tokens=answer.prompt_tokens,
                    completion_tokens=answer.completion_tokens,
                    attempts=tuple(attempts),
                    scores=answer.scores,
                    bar=self._bar,
                    cause=request.seq,
                )
            )
            return
        if late or anyio.current_time() >= deadline:
            reason = f"no provider answered before the deadline (bar {request.deadline_bar})"
        elif not self.order:
            reason = "no provider configured" + (f" (excluded: {', '.join(self.excluded)})" if self.excluded else "")
        else:
            reason = "no provider could answer"
        self._failed(request, reason, attempts)

    def _attempt_limit(self, slot: Slot, later: list[str], now: float, deadline: float) -> float:
        """When this attempt is cut off: at its provider's timeout, and at an even share of the time left with the
        providers after it that could still answer, so a hanging provider cannot use up the whole deadline and
        failover still happens within the same request."""
        limit = min(deadline, now + slot.provider.config.timeout_s)
        if math.isfinite(deadline):
            waiting = sum(self._could_answer(name, now) for name in later)
            limit = min(limit, now + (deadline - now) / (1 + waiting))
        return limit

    def _could_answer(self, name: str, now: float) -> bool:
        slot = self.slots.get(name)
        return slot is not None and not slot.provider.not_ready and slot.breaker.available(now)

    async def _call(self, slot: Slot, request: ev.LMRequest, limit: float) -> Answer:
        """One provider call, cut off at ``limit``; any surprise from the provider is its failure, never a crash."""
        seconds = limit - trio.current_time()
        with trio.move_on_at(limit) as scope:
            try:
                answer = await slot.provider.complete(request)
            except ProviderError:
                raise
            except Exception as exc:
                raise ProviderError("malformed", f"{type(exc).__name__}: {exc}") from None
        if scope.cancelled_caught:
            raise ProviderError("timeout", f"slow call: no answer within {seconds:.2f} s")
        if request.response_schema is not None:
            check_json(answer.text)
        return answer

    def _failed(self, request: ev.LMRequest, reason: str, attempts: list[str]) -> None:
        self._emit(
            ev.LMFailed(
                request_id=request.request_id,
                reason=reason,
                attempts=tuple(attempts),
                bar=self._bar,
                cause=request.seq,
            )
        )

    # --- providers ------------------------------------------------------------------------------------------------

    def _add(self, config: ProviderConfig, breaker: Breaker | None = None) -> None:
        """Build and register a provider; one that cannot work is excluded with its reason, never fatal."""
        if config.name in self.slots:
            self.excluded[config.name] = "duplicate provider name"
            self._warn("provider excluded", provider=config.name, reason="duplicate name")
            return
        try:
            provider = build(config, self._resolve)
        except ConfigError as exc:
            self.excluded[config.name] = str(exc)
            self._warn("provider excluded", provider=config.name, reason=str(exc))
            return
        if isinstance(provider, HTTPProvider) and provider.key:
            self.secrets.add(provider.key, provider.key_env)
        server = None
        if isinstance(provider, LocalProvider):
            on_change = partial(self._local_changed, config.name)
            nice = 0 if self._fast else LIVE_NICE  # offline the set waits for the model: nothing to yield to
            server = LocalServer(provider, on_change, self.config.restart_delay_s, nice)
        breaker = breaker or Breaker(self.config.failure_threshold, self.config.cooldown_s)
        self.slots[config.name] = Slot(provider, breaker, server)
        self.order.append(config.name)
        self.excluded.pop(config.name, None)

    def _start(self, name: str) -> None:
        """Start what a provider needs in the background: its child process, or a check that it is reachable."""
        slot = self.slots[name]
        if isinstance(slot.provider, HTTPProvider):
            slot.provider.client  # noqa: B018 -- built now (SSL context: ~20 ms), not during a failover
        if slot.server is not None:
            self.ctx.spawn(slot.server.run)
        elif self.config.probe_at_start and isinstance(slot.provider, HTTPProvider):
            self.ctx.spawn(self._check, name, slot)

    async def _check(self, name: str, slot: Slot) -> None:
        reason = await slot.provider.check()
        if reason and self.slots.get(name) is slot:
            until = anyio.current_time() + self.config.cooldown_s
            self._report(name, slot.breaker.trip(f"at start: {reason}", until))

    def _remove(self, name: str) -> Slot | None:
        slot = self.slots.pop(name, None)
        if slot is None:
            return None
        self.order.remove(name)
        if slot.server is not None:
            slot.server.stop()
        if self._running:
            self.ctx.spawn(slot.provider.aclose)
        return slot

    def _control(self, event: ev.ProviderControl) -> None:
        name = event.provider
        if event.op == "add":
            known = {p.name: p for p in self.ctx.scenario.router.providers}
            base = msgspec.to_builtins(known[name]) if name in known and "kind" not in event.config else {}
            try:
                config = msgspec.convert({**base, **event.config, "name": name}, ProviderConfig)
            except msgspec.ValidationError as exc:
                self._refuse(event, f"{name}: bad config: {exc} (a provider the scenario does not list needs a kind)")
                return
            self.excluded.pop(name, None)
            self._remove(name)
            self._replace(config, None)
            if name in self.excluded:
                self._refuse(event, self.excluded[name])
        elif name not in self.slots:
            self._refuse(event, f"no provider named {name!r} (providers: {', '.join(self.order) or 'none'})")
            return
        elif event.op == "remove":
            self._remove(name)
        elif event.op == "switch":
            if event.config:
                old = self.slots[name]
                merged = {**msgspec.to_builtins(old.provider.config), **event.config, "name": name}
                try:
                    config = msgspec.convert(merged, ProviderConfig)
                except msgspec.ValidationError as exc:
                    self._refuse(event, f"{name}: bad config: {exc}")
                    return
                self._remove(name)
                self._replace(config, old.breaker)
            if name in self.order:
                self.order.remove(name)
                self.order.insert(0, name)
        elif event.op == "reset":
            self._report(name, self.slots[name].breaker.reset(), event.seq)
        self._health(event.seq)

    def _refuse(self, event: ev.ProviderControl, reason: str) -> None:
        command = f"provider {event.op} {event.provider}"
        self.ctx.emit(ev.CommandRejected(command=command, reason=reason, bar=self._bar, cause=event.seq))

    def _replace(self, config: ProviderConfig, breaker: Breaker | None) -> None:
        self._add(config, breaker)
        if self._running and config.name in self.slots:
            self._start(config.name)

    def _local_changed(self, name: str, status: Status, detail: str, address: str, pid: int) -> None:
        """The local server's child process started, exited or failed: an event, and a move of its circuit."""
        changed = ev.LocalServerChanged(
            provider=name, status=status, detail=detail, address=address, pid=pid, bar=self._bar
        )
        self._emit(changed)
        slot = self.slots.get(name)
        if slot is None:
            return
        if status == "started":
            if slot.breaker.state != "closed":
                self._report(name, slot.breaker.half_open("local server restarted: next call probes"))
        else:
            self._report(name, slot.breaker.trip(f"local server {status}: {detail}"))

    def _resolve(self, value: str) -> Path:
        return self.ctx.scenario.path(value)

    # --- telling the set ------------------------------------------------------------------------------------------

    def _emit(self, event: ev.Event) -> None:
        self.ctx.emit(self.secrets.struct(event))

    def _warn(self, message: str, **fields: object) -> None:
        self.ctx.log.warning(message, **self.secrets.fields(fields))

    def _report(self, name: str, moved: Transition | None, cause: int = -1) -> None:
        if moved is None:
            return
        self._emit(
            ev.ProviderStateChanged(
                provider=name, old=moved.old, new=moved.new, reason=moved.reason, bar=self._bar, cause=cause
            )
        )
        self._health(cause)

    def _health(self, cause: int = -1) -> None:
        states = {name: self.slots[name].breaker.state for name in self.order}
        self._emit(
            ev.ProviderHealth(
                states=states, order=tuple(self.order), excluded=dict(self.excluded), bar=self._bar, cause=cause
            )
        )
