"""Commands a person types during a set. Each becomes an event (logged first), so a replay sees it too."""

from __future__ import annotations

import sys
from collections.abc import Callable

import trio

from bergain_actors.core import events as ev

HELP = """commands (each applies at the next bar line and goes into the log):
  swap SLOT KIND              e.g. swap critic none, swap conductor autopilot
  provider OP NAME            OP: switch (make preferred), reset (close its circuit), remove
  stop                        end the set after this bar
  help"""


def parse(line: str) -> ev.Event | str:
    """The event a command line means, or a message for the person who typed it."""
    words = line.split()
    match words:
        case ["swap", slot, kind]:
            return ev.Control(command="swap", args={"slot": slot, "kind": kind})
        case ["provider", ("switch" | "reset" | "remove") as op, name]:
            return ev.ProviderControl(op=op, provider=name)
        case ["stop"]:
            return ev.Control(command="stop")
        case [] | ["help"]:
            return HELP
        case _:
            return f"not understood: {line.strip()!r}\n{HELP}"


async def console(publish: Callable[[ev.Event], ev.Event]) -> None:
    """Read commands from the terminal for as long as the set plays (only when stdin is a terminal)."""
    if not sys.stdin.isatty():
        return
    print("type 'help' for live commands", file=sys.stderr)
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        parsed = parse(line)
        if isinstance(parsed, str):
            print(parsed, file=sys.stderr)
        else:
            publish(parsed)
