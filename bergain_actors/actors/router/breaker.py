"""A circuit breaker per provider: closed → open → half-open (exactly one probe) → closed.

Pure: every method takes ``now`` (the router passes ``anyio.current_time()``, which follows trio's MockClock in
tests) and returns the ``Transition`` it made, if any, so the actor can publish it as an event. State lives in the
router's single trio thread, so there are no locks. Libraries were no fit: none limits half-open to one probe, all
use the wall clock (see reference/local_llm_and_router.md).
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

State = Literal["closed", "open", "half_open"]
Permit = Literal["call", "probe"]
"""What ``admit`` grants: an ordinary call (closed), or the single half-open probe."""


class Transition(msgspec.Struct, frozen=True):
    old: State
    new: State
    reason: str


class Breaker:
    def __init__(self, failure_threshold: int = 3, cooldown_s: float = 60.0) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.state: State = "closed"
        self.failures = 0
        """Consecutive failures while closed."""
        self.open_until = 0.0
        self.probing = False

    def available(self, now: float) -> bool:
        """Whether ``admit`` would let a call through now (no side effects)."""
        if self.state == "closed":
            return True
        if self.state == "open":
            return now >= self.open_until
        return not self.probing

    def admit(self, now: float) -> tuple[Permit | None, Transition | None]:
        """Ask to send one call. Open past its cooldown moves to half-open and grants the one probe."""
        if self.state == "closed":
            return "call", None
        moved = None
        if self.state == "open":
            if now < self.open_until:
                return None, None
            moved = self._move("half_open", "cooldown over: one probe")
        if self.probing:
            return None, moved
        self.probing = True
        return "probe", moved

    def succeeded(self, permit: Permit) -> Transition | None:
        if permit == "probe" and self.state == "half_open":
            self.probing = False
            return self._move("closed", "probe succeeded")
        if self.state == "closed":
            self.failures = 0
        return None  # a call admitted before the circuit opened: too late to vouch for the provider

    def failed(self, now: float, reason: str, permit: Permit, retry_after: float | None = None) -> Transition | None:
        """Count a provider failure. ``retry_after`` (a 429's header) keeps the circuit open at least that long."""
        if permit == "probe" and self.state == "half_open":
            self.probing = False
            return self._open(now, f"probe failed: {reason}", max(self.cooldown_s, retry_after or 0.0))
        if self.state != "closed":
            if retry_after is not None:
                self.open_until = max(self.open_until, now + retry_after)
            return None
        self.failures += 1
        tripped = self.failures >= self.failure_threshold
        if retry_after is not None:
            wait = max(retry_after, self.cooldown_s if tripped else 0.0)
            return self._open(now, f"rate limited, retry after {retry_after:g} s: {reason}", wait)
        if tripped:
            return self._open(now, f"{self.failures} consecutive failures, last: {reason}", self.cooldown_s)
        return None

    def release(self, permit: Permit) -> None:
        """The call ended with no verdict on the provider (cancelled, or the caller's own error)."""
        if permit == "probe":
            self.probing = False

    def trip(self, reason: str, until: float = math.inf) -> Transition | None:
        """Open now, until ``until`` (default: until further notice, e.g. the provider's process died)."""
        self.open_until = until
        self.probing = False
        return None if self.state == "open" else self._move("open", reason)

    def half_open(self, reason: str) -> Transition | None:
        """Let the next call probe now (the provider is known to be back)."""
        self.probing = False
        return None if self.state == "half_open" else self._move("half_open", reason)

    def reset(self, reason: str = "manual reset") -> Transition | None:
        self.failures = 0
        self.probing = False
        return None if self.state == "closed" else self._move("closed", reason)

    def _open(self, now: float, reason: str, wait: float) -> Transition | None:
        self.open_until = now + wait
        return self._move("open", reason)

    def _move(self, new: State, reason: str) -> Transition | None:
        old, self.state = self.state, new
        if new == "closed":
            self.failures = 0
        return Transition(old, new, reason) if old != new else None
