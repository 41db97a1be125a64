"""The embedded LM is asked one request at a time, whole, and of those waiting the one the set made first: the
server's scores depend on the prompts it saw before (it scores a prompt seen before from its cache, a few
thousandths off), so the order it sees them in must not depend on when trio woke each request. Two phrase ballots
of a set of `evaluate` asked while the server booted traded their content-free prompt's scores from run to run
(served as trio woke them), and the set diverged from bar 4; the same grid then gave two tables."""

from __future__ import annotations

import json
import random
from pathlib import Path

import msgspec
import trio

from bergain_actors import choice
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.actors.router.providers import LocalProvider
from bergain_actors.core import events as ev
from bergain_actors.core.scenario import ProviderConfig

MENUS = (
    ("bring the hats in", "take the bass out", "open the filter on the pad", "keep the groove as it is"),
    ("a clap on two and four", "drop the kick for a bar", "a longer delay on the stab", "swap the kick sample"),
)


def ballots() -> list[ev.LMRequest]:
    """Two phrase ballots of one size, each with its content-free prompt (the same text in both), as the set made
    them (``seq`` 11, then 20)."""
    made = []
    for index, options in enumerate(MENUS):
        ballot = choice.ballot(
            options,
            system="You are a techno DJ choosing the next move.",
            context=f"Phrase {index + 1}: a dark warehouse set, energy 0.5.",
            question="Which move now?",
            rng=random.Random(index),
        )
        request = choice.request(ballot, request_id=f"phrase:{index}", purpose="phrase")
        made.append(msgspec.structs.replace(request, seq=(11, 20)[index]))
    return made


async def test_requests_woken_together_are_served_whole_the_first_made_first(nursery: trio.Nursery) -> None:
    server = await nursery.start(FaultServer().run)
    await server.set_mode("score")
    provider = LocalProvider(ProviderConfig(name="local", kind="local"), resolve=Path)
    first, later = ballots()
    prompts = [json.dumps(m) for r in (first, later) for m in (r.messages, *r.variants)]
    assert len(set(prompts)) == len(prompts) - 1, "the two ballots share their content-free prompt"
    answers: dict[str, ev.LMRequest] = {}

    async def ask(request: ev.LMRequest) -> None:
        await provider.wait_ready()
        answers[request.request_id] = await provider.complete(request)

    async with trio.open_nursery() as calls:
        for request in (later, first):  # both wait for the server, then wake in one batch (trio shuffles it)
            calls.start_soon(ask, request)
        await trio.testing.wait_all_tasks_blocked()
        provider.set_address(server.url)  # the server is up
    assert [json.dumps(body["messages"]) for body in server.bodies] == prompts
    assert [len(answers[r.request_id].scores) for r in (first, later)] == [3, 3]
