"""Actor kinds that only the corpus needs: a critic with one deliberate bug, so a logged set shows a crash and the
supervisor's restart (and its replay must reproduce both)."""

from __future__ import annotations

from typing import Any

from bergain_actors.actors.critic.arc import ArcCritic
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev

CRASH_BAR = 5


class FlakyCritic(ArcCritic):
    """The arc critic, except that a fresh instance chokes on bar ``CRASH_BAR`` (a restarted one does not)."""

    kind = "flaky"

    def __init__(self, ctx: Any, config: Any) -> None:
        super().__init__(ctx, config)
        self.restarted = False

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        super().resume(last)
        self.restarted = True

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed) and event.bar == CRASH_BAR and not self.restarted:
            raise RuntimeError(f"deliberate corpus bug at bar {CRASH_BAR}")
        super().handle(event)


def register() -> None:
    registry.register("critic", "flaky", FlakyCritic)
