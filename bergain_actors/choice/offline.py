"""A ballot put to the scenario's providers with no set playing (the CLI: ``intent``, ``clip``)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from bergain_actors.choice.ballot import Ballot, request
from bergain_actors.choice.pick import Choice, decide
from bergain_actors.core import events as ev

if TYPE_CHECKING:
    from bergain_actors.service.session import Session


async def ask(
    session: Session,
    b: Ballot,
    *,
    purpose: str,
    temperature: float = 0.0,
    rng: random.Random | None = None,
    timeout: float = 60.0,
) -> tuple[Choice, ev.LMResponse] | ev.LMFailed:
    """Score ``b`` through ``session`` (a ``service.session.Session``) and pick; the LM's failure as it came."""
    sent = request(b, request_id=session.request_id(purpose), purpose=purpose, best_effort=True)
    answer = await session.send(sent, timeout=timeout)
    if isinstance(answer, ev.LMFailed):
        return answer
    return decide(b, answer, temperature, rng or random.Random(0)), answer
