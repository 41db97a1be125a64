"""The plain terminal front end: one command per line on stdin, one answer per line on stderr."""

from __future__ import annotations

import sys

import trio

from bergain_actors.control.desk import Desk


async def console(desk: Desk) -> None:
    """Read commands from the terminal for as long as the set plays (only when stdin is a terminal)."""
    if not sys.stdin.isatty():
        return
    print("type 'help' for live commands", file=sys.stderr)
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        reply = desk.submit(line)
        print(("→ " if reply.ok else "✗ ") + reply.text, file=sys.stderr)
