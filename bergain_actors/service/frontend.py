"""The HTTP API as a front end of a set (``run --http``, ``serve SCENARIO``) or of the router alone (``serve``)."""

from __future__ import annotations

import sys

import trio

from bergain_actors.control import Desk
from bergain_actors.core.scenario import Scenario
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.performance import raise_on_signal
from bergain_actors.service.app import Api
from bergain_actors.service.http import is_loopback, listen, serve_app
from bergain_actors.service.session import Session, router_session


class NeedsToken(ValueError):
    """Binding beyond loopback without a token would open the set to the network."""


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (``[::1]:PORT`` for IPv6)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--http: expected [HOST:]PORT with a port 0-65535, got {text!r}")
    return host, int(port)


def check_exposure(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise NeedsToken(
            f"binding {host} exposes the set beyond this machine: give a token with --token-env NAME "
            "(requests then need 'Authorization: Bearer <token>')"
        )


class HttpFrontend:
    """Attach with ``attach`` before the set starts, then run ``serve`` beside it (``perform(beside=...)``: it
    outlives the set until ``finish`` has sent every client the end)."""

    def __init__(self, host: str, port: int, token: str | None, *, announce: bool = True) -> None:
        """Binds the address at once: a port in use is an ``OSError`` before the set starts."""
        check_exposure(host, token)
        self.sock = listen(host, port)
        self.host, self.port, self.token = host, self.sock.getsockname()[1], token
        self.announce = announce
        self.session: Session | None = None
        self.bound = trio.Event()

    def attach(self, supervisor: Supervisor) -> None:
        self.session = Session(supervisor)

    async def serve(self, desk: Desk | None = None) -> None:
        """Serve until cancelled (the set's end cancels it). Commands go through the session's own desk."""
        assert self.session is not None, "attach() first"
        api = Api(self.session, token=self.token, host=self.host)
        try:
            async with api.mcp.manager.run(), trio.open_nursery() as nursery:
                await nursery.start(serve_app, api.app, self.sock)
                self.bound.set()
                if self.announce:
                    print(f"HTTP API on {self.url}  (dashboard: {self.url}/)", file=sys.stderr)
        finally:
            self.session.stream.close()

    async def finish(self) -> None:
        """After ``SetEnded``: every event stream sends what it has queued and closes (the caller bounds it)."""
        if self.session is not None:
            await self.session.stream.finish()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


async def serve_router(scenario: Scenario, host: str, port: int, token: str | None) -> None:
    """``serve`` without a set: the scenario's providers behind the API until interrupted (Ctrl-C reaches it even
    when the parent left SIGINT blocked or ignored, as a set's does)."""
    check_exposure(host, token)
    sock = listen(host, port)
    async with router_session(scenario) as session:
        api = Api(session, token=token, host=host)
        async with api.mcp.manager.run(), trio.open_nursery() as nursery:
            await nursery.start(raise_on_signal)
            bound = await nursery.start(serve_app, api.app, sock)
            print(f"HTTP API (router only) on http://{host}:{bound}  (Ctrl-C to stop)", file=sys.stderr)
            await trio.sleep_forever()
