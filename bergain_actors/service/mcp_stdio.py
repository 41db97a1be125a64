"""``bergain-actors mcp``: the MCP server on stdin/stdout, as an MCP client (Claude Desktop...) starts it.

The client's pipes carry JSON-RPC and nothing else: they are taken for the protocol before anything runs, and fd 0
then reads /dev/null and fd 1 writes to stderr, so no print, native library or child process can tear a frame
(the summary and the play-by-play land on stderr, which clients keep as the server's log). The pipes are read and
written through trio's ``FdStream``, so a signal or the set's end cancels them at once, with no thread stuck in a
blocking read.

With a set, the server lives as long as the client stays: while the set plays, after it ends (so a client can read
the summary and the last events), and a client that leaves mid-set stops it with ``stop now``, an event like any
command, so the log still ends cleanly and replays exactly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import trio
from mcp.server.stdio import stdio_server

from bergain_actors.core.scenario import Scenario
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.service.mcp_tools import SetTools
from bergain_actors.service.session import Session, router_session

T = TypeVar("T")


def claim_stdio() -> tuple[int, int]:
    """The client's stdin and stdout for the protocol alone: duplicated, then fd 0 reads /dev/null and fd 1 (and
    so ``sys.stdout``) writes to stderr. Returns the protocol's (in, out) descriptors."""
    sys.stdout.flush()
    pipes = os.dup(0), os.dup(1)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    os.dup2(2, 1)
    return pipes


class _LinesIn:
    """The protocol's input, one line at a time (what the SDK's stdio transport iterates)."""

    def __init__(self, fd: int) -> None:
        self.stream = trio.lowlevel.FdStream(fd)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        pending = b""
        while data := await self.stream.receive_some(1 << 16):
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if pending.strip():
            yield pending.decode("utf-8", "replace")


class _Out:
    """The protocol's output (what the SDK's stdio transport writes to)."""

    def __init__(self, fd: int) -> None:
        self.stream = trio.lowlevel.FdStream(fd)

    async def write(self, text: str) -> None:
        await self.stream.send_all(text.encode("utf-8"))

    async def flush(self) -> None:
        """Nothing is buffered: ``write`` returns once the pipe has the bytes."""


async def serve_stdio(tools: SetTools, pipes: tuple[int, int]) -> None:
    """Answer MCP on ``pipes`` until the client closes its end."""
    inner = tools.server._lowlevel_server  # MCPServer's own stdio runner claims fd 0/1, which carry no protocol here
    async with stdio_server(_LinesIn(pipes[0]), _Out(pipes[1])) as (read, write):  # type: ignore[arg-type]
        await inner.run(read, write, inner.create_initialization_options())


class StdioFrontend:
    """``mcp SCENARIO``: attach before the set starts (``perform(before_start=...)``), then run the set ``around``."""

    def __init__(self, pipes: tuple[int, int]) -> None:
        self.pipes = pipes
        self.tools: SetTools | None = None
        self._attached = trio.Event()
        self._gone = trio.Event()

    def attach(self, supervisor: Supervisor) -> None:
        self.tools = SetTools(Session(supervisor))
        self._attached.set()

    async def around(self, play: Callable[[], Awaitable[T]]) -> T:
        """Play the set with the server beside it; return once the set has ended and the client has gone."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._serve)
            result = await play()
            await self._gone.wait()
            nursery.cancel_scope.cancel()
        return result

    async def _serve(self) -> None:
        await self._attached.wait()
        assert self.tools is not None
        try:
            await serve_stdio(self.tools, self.pipes)
        except Exception as exc:  # a broken pipe is a client gone; the music does not stop for the front end
            print(f"the MCP connection failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            self._gone.set()
        if self.tools.session.plays and not self.tools.session.view.ended:
            answer = self.tools.command("stop now")
            print(f"the MCP client left: {answer.content[0].text}", file=sys.stderr)  # type: ignore[union-attr]


async def serve_router_stdio(scenario: Scenario, pipes: tuple[int, int]) -> None:
    """``mcp`` without a set: the scenario's providers (ask, clip as notes or a MIDI file, providers)."""
    async with router_session(scenario) as session:
        print("MCP server (router only) on stdio", file=sys.stderr)
        await serve_stdio(SetTools(session), pipes)
