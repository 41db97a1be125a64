"""The ProviderRouter: every LM request of the set, with failover, circuit breakers and musical deadlines.

An edge actor (``deciding = False``): ``handle`` only starts work, a task per request does the HTTP and publishes
what came back (``LMResponse`` / ``LMFailed``), so the world's answers are in the log before anyone uses them; on
``replay --verify`` those events are served from the log and this actor is never built.

Deadlines: a request's ``deadline_bar`` is mapped to trio time from the latest ``BarPlayed`` (bar N consumed at T:
bar D is due at T + (D - N - 1) bars). Providers are asked in order; one that has not answered by its share of the
time left (see ``_hedge_at``) is hedged: the next one is asked too and the first good answer wins, so a hanging
provider cannot eat the time a slow one after it needs. Only the answer used becomes an event (``LMResponse``, the
others' fates in its ``attempts``), so what wall time decided is in the log. An answer that cannot be used (not
what the schema asked for, over the cap) is its provider's failure like a 500. In fast mode the streamer waits for
decisions, so only each provider's ``timeout_s`` applies, and a local server that is booting or restarting is
waited for (so is one an API question needs when nothing else could answer).
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
from pathlib import Path

import anyio
import msgspec
import trio

from bergain_actors import choice
from bergain_actors.actors.router.breaker import Breaker, Permit, Transition
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
    check_answer,
    key_variable,
)
from bergain_actors.actors.router.secrets import Secrets
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.core.clock import Meter
from bergain_actors.core.scenario import ProviderConfig, RouterConfig

MAX_ANSWER_CHARS = 256 * 1024
"""Longer LM answers are cut (``LMAnswerCapped``): at 4 bytes a character at most 1 MiB, far inside a log record."""


NEED_MARGIN = 1.25
"""A provider is expected to need this much more than the longest of its recent answers."""
DEATH_GRACE_S = 2.0
"""After a broken connection to the local server, how long its child may take to be reaped if it died."""


class Slot:
    """One provider as the router holds it: the provider, its circuit, its child process if local."""

    def __init__(self, provider: Provider, breaker: Breaker, server: LocalServer | None) -> None:
        self.provider = provider
        self.breaker = breaker
        self.server = server
        self.took: dict[str, deque[float]] = {}
        """Purpose → seconds its latest good answers to such requests took (a chat answer is no phrase's pace)."""

    def need(self, purpose: str) -> float:
        """The time it is expected to need for a request of ``purpose`` (0: not known yet)."""
        return max(self.took.get(purpose, ()), default=0.0) * NEED_MARGIN


class Attempt:
    """One provider asked for one request."""

    def __init__(self, name: str, slot: Slot, started: float, hedge_at: float, *, hedge: bool) -> None:
        self.name = name
        self.slot = slot
        self.started = started
        self.hedge_at = hedge_at
        """When the next provider is asked too if this one has not answered."""
        self.hedge = hedge
        """Asked while an earlier provider was still running (because it was slow)."""
        self.late = False
        """Past ``hedge_at`` without an answer: a slow call if another provider answers first."""
        self.wait = False
        """Whether to wait for the provider to be ready (see ``_may_wait``)."""
        self.retry = False
        """Whether to ask a local server again after its child died under the call and came back."""
        self.retried = ""
        """Why it was asked again (the failure its child's death caused), if it was."""
        self.permit: Permit | None = None
        self.generation: int | None = None
        """The local server's generation the call went to."""

    def release(self) -> None:
        """No verdict on the provider (cancelled, cut short through no fault of its own)."""
        if self.permit is not None:
            self.slot.breaker.release(self.permit)
            self.permit = None


class Race:
    """One request's attempts: the ones running (in the order asked), what became of the others, the outcome."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.running: list[Attempt] = []
        self.notes: list[str] = []
        """Each provider that did not give the answer, and why: the answer's (or failure's) ``attempts``."""
        self.answered: tuple[Attempt, Answer] | None = None
        self.caller_error = ""
        self.next_at = started
        """When to ask the next provider: at once (nobody asked yet, the latest one failed) or at a hedge time."""

    @property
    def open(self) -> bool:
        return self.answered is None and not self.caller_error


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
        self._keyed: set[tuple[str, str, str]] = set()
        """(key variable, kind, base URL) of the providers the set started with: where the operator sends keys."""
        for provider in config.providers:
            self._configure(provider)

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
                        self._configure(config)
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

    def _may_wait(self, slot: Slot, later: list[str], deadline: float) -> bool:
        """Whether to wait for a provider that is not ready (a local server booting, or restarting under a call)
        rather than go on to the next one. Only with no musical deadline (offline, where the music waits for
        decisions, or a question from the API), bounded by the provider's timeout: always for a local server's
        first boot offline (the set then plays on the LM it asked for); otherwise only when no later provider
        could answer meanwhile."""
        if math.isfinite(deadline):
            return False
        if self._fast and getattr(slot.provider, "state", "") == "starting":
            return True
        return not any(self._could_answer(name, anyio.current_time()) for name in later)

    async def _serve(self, request: ev.LMRequest, deadline: float) -> None:
        """Ask the providers in order, one at a time; when one has not answered by its share of the deadline ask
        the next one too (a hedge) and take the first good answer. Only that answer becomes an event; the others'
        fates are its ``attempts``."""
        race = Race(trio.current_time())
        later = self._route(request)
        send, receive = trio.open_memory_channel[tuple[Attempt, Answer | ProviderError]](math.inf)
        try:
            async with trio.open_nursery() as nursery:
                while race.open:
                    now = trio.current_time()
                    if now >= deadline:
                        break
                    if later and now >= race.next_at:
                        attempt = self._next_attempt(race, request, later, now, deadline)
                        if attempt is not None and race.running == [attempt] and math.isinf(attempt.hedge_at):
                            with trio.move_on_at(deadline):  # nothing to race it against: asked right here
                                self._took(race, attempt, await self._try(attempt, request), request)
                        elif attempt is not None:
                            nursery.start_soon(self._send_try, attempt, request, send)
                        continue
                    if not race.running:
                        break
                    with trio.move_on_at(min(deadline, race.next_at if later else math.inf)):
                        self._took(race, *await receive.receive(), request)
                for attempt in race.running:
                    self._settle(attempt, request, race, None)
                race.running.clear()
                nursery.cancel_scope.cancel()
        finally:
            for attempt in race.running:  # cancelled (the set ends): no verdict on anyone
                attempt.release()
        if race.answered is not None:
            self._answered(request, race.answered[0].name, race.answered[1], race.notes, race.started)
        elif race.caller_error:
            self._failed(request, race.caller_error, race.notes)
        elif trio.current_time() >= deadline:
            reason = f"no provider answered before the deadline (bar {request.deadline_bar})"
            self._failed(request, reason, race.notes)
        elif not self.order:
            excluded = f" (excluded: {', '.join(self.excluded)})" if self.excluded else ""
            self._failed(request, "no provider configured" + excluded, race.notes)
        else:
            self._failed(request, "no provider could answer", race.notes)

    def _next_attempt(
        self, race: Race, request: ev.LMRequest, later: list[str], now: float, deadline: float
    ) -> Attempt | None:
        """The next provider in line, as an attempt in ``race`` (None: it is gone)."""
        if race.running:
            race.running[-1].late = True  # past its share: the next provider is asked too
        name = later.pop(0)
        slot = self.slots.get(name)
        if slot is None:
            return None
        hedge_at = self._hedge_at(later, request.purpose, now, deadline)
        attempt = Attempt(name, slot, now, hedge_at, hedge=bool(race.running))
        attempt.wait = self._may_wait(slot, later, deadline)
        attempt.retry = attempt.wait or not any(self._could_answer(n, now) for n in later)
        race.running.append(attempt)
        race.next_at = attempt.hedge_at
        return attempt

    def _took(self, race: Race, attempt: Attempt, result: Answer | ProviderError, request: ev.LMRequest) -> None:
        """An attempt ended: the answer to use, the caller's own error, or one provider's failure."""
        latest = attempt is race.running[-1]
        race.running.remove(attempt)
        if attempt.retried:
            race.notes.append(f"{attempt.name}: {attempt.retried}; asked the restarted server again")
        if isinstance(result, Answer):
            race.answered = (attempt, result)
            self._succeeded(attempt, request)
            return
        if result.kind == "caller":
            race.caller_error = f"caller error at {attempt.name}: {result.detail}"
        self._settle(attempt, request, race, result)
        if latest:
            race.next_at = trio.current_time()  # the latest one failed: the next one at once

    def _succeeded(self, attempt: Attempt, request: ev.LMRequest) -> None:
        assert attempt.permit is not None
        self._report(attempt.name, attempt.slot.breaker.succeeded(attempt.permit), request.seq)
        attempt.permit = None
        took = attempt.slot.took.setdefault(request.purpose, deque(maxlen=8))
        took.append(trio.current_time() - attempt.started)

    def _hedge_at(self, later: list[str], purpose: str, now: float, deadline: float) -> float:
        """When to ask the next provider too if this one has not answered: at its even share of the time left with
        the providers after it that could answer, and early enough to leave the next one the time it took lately
        (a local model on a loaded machine needs most of a deadline; a hanging provider must not eat it)."""
        waiting = [name for name in later if self._could_answer(name, now)]
        if not waiting or not math.isfinite(deadline):
            return math.inf
        left = deadline - now
        need = max(self.slots[name].need(purpose) for name in waiting)
        return now + max(0.0, min(left / (1 + len(waiting)), left - need))

    def _could_answer(self, name: str, now: float) -> bool:
        slot = self.slots.get(name)
        return slot is not None and not slot.provider.not_ready and slot.breaker.available(now)

    async def _try(self, attempt: Attempt, request: ev.LMRequest) -> Answer | ProviderError:
        """One provider asked: wait for it if allowed, pass its circuit, call it; ``_serve`` gives the verdicts. A
        call is cut only at the provider's own timeout (the deadline is ``_serve``'s)."""
        slot, provider = attempt.slot, attempt.slot.provider
        limit = attempt.started + provider.config.timeout_s
        if provider.not_ready and attempt.wait:
            with trio.move_on_at(limit):
                await provider.wait_ready()
        result = await self._admit_and_call(attempt, request, limit)
        if (
            isinstance(result, ProviderError)
            and attempt.retry
            and isinstance(provider, LocalProvider)
            and attempt.generation is not None
            and await self._died(slot, result)
        ):
            result = await self._retry_restarted(attempt, request, limit, result)
        return result

    async def _send_try(
        self,
        attempt: Attempt,
        request: ev.LMRequest,
        send: trio.MemorySendChannel[tuple[Attempt, Answer | ProviderError]],
    ) -> None:
        send.send_nowait((attempt, await self._try(attempt, request)))

    async def _admit_and_call(self, attempt: Attempt, request: ev.LMRequest, limit: float) -> Answer | ProviderError:
        slot = attempt.slot
        if slot.provider.not_ready:
            return ProviderError("not_ready", slot.provider.not_ready)
        permit, moved = slot.breaker.admit(anyio.current_time())
        self._report(attempt.name, moved, request.seq)
        if permit is None:
            return ProviderError("not_ready", f"circuit {slot.breaker.state}")
        attempt.permit = permit
        attempt.generation = getattr(slot.provider, "generation", None)
        try:
            return await self._call(slot, request, limit)
        except ProviderError as exc:
            return exc

    async def _died(self, slot: Slot, error: ProviderError) -> bool:
        """Whether the local server's child died under this call (the connection broke and the process exits)."""
        if slot.server is None or slot.server.process is None:
            return False
        if error.kind != "refused" and not error.detail.startswith("connection broke"):
            return False
        with trio.move_on_after(DEATH_GRACE_S):  # the socket closes a moment before the process is reaped
            await slot.server.process.wait()
        return slot.server.process.returncode is not None

    async def _retry_restarted(
        self, attempt: Attempt, request: ev.LMRequest, limit: float, error: ProviderError
    ) -> Answer | ProviderError:
        """The child died under the call: give the death its verdict, wait for the restarted server (within the
        provider's timeout) and ask it again, as its half-open probe."""
        provider = attempt.slot.provider
        assert isinstance(provider, LocalProvider) and attempt.generation is not None
        self._verdict(attempt, request, error)
        with trio.move_on_at(limit):
            await provider.wait_restart(attempt.generation)
        if provider.not_ready or provider.generation == attempt.generation:
            return ProviderError(error.kind, f"{error.detail}; the server did not come back in time")
        attempt.retried = str(error)
        return await self._admit_and_call(attempt, request, limit)

    async def _call(self, slot: Slot, request: ev.LMRequest, limit: float) -> Answer:
        """One provider call, cut off at ``limit``; any surprise from the provider is its failure, never a crash,
        and so is an answer that cannot be used (over the cap, not what the schema asked for, or a choice that names
        no option)."""
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
        if request.continuations and len(answer.scores) != 1 + len(request.variants):
            raise ProviderError("unusable", "no log-likelihood for the continuations")
        if request.score and not answer.scores and choice.label_in(answer.text, request.score) is None:
            raise ProviderError("unusable", f"neither probabilities nor an option in the answer {answer.text[:40]!r}")
        if slot.provider.kind == "scripted" and slot.provider.config.verbatim:  # what a logged set was given
            if request.response_schema is not None:
                check_answer(answer.text, None)  # as the original: a JSON request fails again on what is not JSON
            return answer
        schema = request.response_schema
        text = answer.text.strip() if schema is not None else answer.text  # whitespace around JSON means nothing
        if (schema is not None or request.score) and len(text) > MAX_ANSWER_CHARS:  # the caller reads it as data
            raise ProviderError("unusable", f"answer of {len(text)} characters is over the {MAX_ANSWER_CHARS} cap")
        if schema is not None:
            check_answer(text, schema)
            answer = msgspec.structs.replace(answer, text=text)
        return answer

    def _settle(self, attempt: Attempt, request: ev.LMRequest, race: Race, error: ProviderError | None) -> None:
        """The verdict on an attempt that did not give the answer, and its line in ``attempts``. ``error``: it
        ended so; else it was still running when the race ended (an answer, the caller's error, the deadline)."""
        if error is None:
            took = f"{trio.current_time() - attempt.started:.2f} s"
            winner = race.answered[0].name if race.answered else ""
            if race.caller_error:  # the request itself is at fault: no verdict on anyone still working on it
                attempt.release()
                race.notes.append(f"{attempt.name}: cancelled: {race.caller_error}")
                return
            if winner and not attempt.late:
                attempt.release()
                race.notes.append(f"{attempt.name}: cancelled: {winner} answered first")
                return
            if attempt.hedge and not winner:  # asked late because the one before was slow: its time was eaten
                attempt.release()
                race.notes.append(f"{attempt.name}: no answer within {took} (asked as a hedge: no verdict)")
                return
            first = f", {winner} answered first" if winner else ""
            error = ProviderError("timeout", f"slow call: no answer within {took}{first}")
        if error.kind == "not_ready":
            race.notes.append(f"{attempt.name}: {error.detail}")
            return
        race.notes.append(f"{attempt.name}: {error}")
        self._verdict(attempt, request, error)

    def _verdict(self, attempt: Attempt, request: ev.LMRequest, error: ProviderError) -> None:
        """A failure counts against the provider unless it was the caller's, or a best-effort request's (an API
        question never takes the set's LM away); but a half-open probe always gets its verdict."""
        permit = attempt.permit
        if permit is None:
            return
        attempt.permit = None
        if error.counts and (not request.best_effort or permit == "probe"):
            moved = attempt.slot.breaker.failed(anyio.current_time(), str(error), permit, error.retry_after)
            self._report(attempt.name, moved, request.seq)
        else:
            attempt.slot.breaker.release(permit)

    def _answered(self, request: ev.LMRequest, name: str, answer: Answer, notes: list[str], started: float) -> None:
        if request.score and not answer.scores and name not in self.unscored:
            self.unscored.add(name)
            self._warn("provider gives no probabilities: its choices are its constrained answers", provider=name)
        text = answer.text
        if len(text) > MAX_ANSWER_CHARS:  # free text (no schema, no choice): the start of it is still an answer
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
                attempts=tuple(notes),
                scores=answer.scores,
                bar=self._bar,
                cause=request.seq,
            )
        )

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

    def _configure(self, config: ProviderConfig) -> None:
        """A provider the set starts with (the scenario's, or found by ``auto``): one that cannot work is excluded
        with its reason (listed, and ``provider add NAME`` tries it again), never fatal."""
        provider = "duplicate provider name" if config.name in self.slots else self._build(config)
        if isinstance(provider, str):
            self.excluded[config.name] = provider
            self._warn("provider excluded", provider=config.name, reason=provider)
            return
        self._register(config, provider)
        key = key_variable(config)
        if key:
            self._keyed.add((key, config.kind, config.base_url))

    def _build(self, config: ProviderConfig) -> Provider | str:
        """The provider, or why it cannot be used at all."""
        try:
            return build(config, self._resolve)
        except ConfigError as exc:
            return str(exc)

    def _register(self, config: ProviderConfig, provider: Provider, breaker: Breaker | None = None) -> None:
        if isinstance(provider, HTTPProvider) and provider.key:
            self.secrets.add(provider.key, provider.key_env)
        server = None
        if isinstance(provider, LocalProvider):
            on_change = partial(self._local_changed, config.name, provider)
            nice = None if self._fast else LIVE_NICE  # offline the set waits for the model: nothing to come first
            server = LocalServer(provider, on_change, self.config.restart_delay_s, nice)
        breaker = breaker or Breaker(self.config.failure_threshold, self.config.cooldown_s)
        self.slots[config.name] = Slot(provider, breaker, server)
        self.order.append(config.name)
        self.excluded.pop(config.name, None)
        if self._running:
            self._start(config.name)

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
        """A provider command: carried out whole, or refused with its reason and nothing changed (no ghost entry,
        nothing listed)."""
        name = event.provider
        if event.op == "add":
            if name in self.slots:
                lights = f"circuit {self.slots[name].breaker.state}"
                self._refuse(event, f"{name} is already a provider ({lights}): 'provider switch {name}' prefers it")
                return
            listed = {p.name: p for p in self.ctx.scenario.router.providers}
            base = msgspec.to_builtins(listed[name]) if name in listed and "kind" not in event.config else {}
            if not self._replace(event, {**base, **event.config, "name": name}, None):
                return
        elif name not in self.slots:
            self._refuse(event, f"no provider named {name!r} (providers: {', '.join(self.order) or 'none'})")
            return
        elif event.op == "remove":
            self._remove(name)
        elif event.op == "switch":
            if event.config:
                old = self.slots[name]
                settings = {**msgspec.to_builtins(old.provider.config), **event.config, "name": name}
                if not self._replace(event, settings, old):
                    return
            self.order.remove(name)
            self.order.insert(0, name)
        elif event.op == "reset":
            self._report(name, self.slots[name].breaker.reset(), event.seq)
        self._health(event.seq)

    def _replace(self, event: ev.ProviderControl, settings: dict[str, object], old: Slot | None) -> bool:
        """Put the provider ``settings`` describe in place of ``old`` (or add it), or refuse; whether it was done."""
        name = event.provider
        try:
            config = msgspec.convert(settings, ProviderConfig)
        except msgspec.ValidationError as exc:
            needs = "" if old is not None else " (a provider the scenario does not list needs a kind)"
            self._refuse(event, f"bad config: {exc}{needs}")
            return False
        refusal = self._key_refusal(config)
        if refusal:
            self._refuse(event, refusal)
            return False
        provider = self._build(config)
        if isinstance(provider, str):
            self._refuse(event, provider)
            return False
        if old is not None:
            self._remove(name)
        self._register(config, provider, old.breaker if old is not None else None)
        return True

    def _key_refusal(self, config: ProviderConfig) -> str:
        """Why a provider added or changed at runtime may not read its API key variable ("" = it may): only the
        variables the operator allowed (``[router] allow_key_env``, ``--allow-key-env``), or one going where a
        provider the set started with already sends it (same kind and base URL). Anyone who may send commands
        could otherwise send any variable's value to a server of their choosing."""
        key = key_variable(config)
        if not key or key in self.config.allow_key_env or (key, config.kind, config.base_url) in self._keyed:
            return ""
        allowed = ", ".join(self.config.allow_key_env) or "none"
        return (
            f"key variable {key} is not allowed for a provider added at runtime (allowed: {allowed}; "
            "the operator allows one with [router] allow_key_env or --allow-key-env)"
        )

    def _refuse(self, event: ev.ProviderControl, reason: str) -> None:
        command = f"provider {event.op} {event.provider}"
        self.ctx.emit(ev.CommandRejected(command=command, reason=reason, bar=self._bar, cause=event.seq))

    def _local_changed(
        self, name: str, provider: LocalProvider, status: Status, detail: str, address: str, pid: int
    ) -> None:
        """The local server's child process started, exited or failed: an event, and a move of its circuit."""
        changed = ev.LocalServerChanged(
            provider=name, status=status, detail=detail, address=address, pid=pid, bar=self._bar
        )
        self._emit(changed)
        slot = self.slots.get(name)
        if slot is None or slot.provider is not provider:  # removed, or replaced by a provider of the same name
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
