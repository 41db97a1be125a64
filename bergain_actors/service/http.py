"""Serving an ASGI app with Hypercorn's trio worker inside the set's own nursery.

Two things Hypercorn does not do for us, both verified on hypercorn 0.18 (see shared/reference):
- a client that stays connected but stops reading holds its handler in a shielded ``send_all`` forever, so we
  listen on a socket of our own with ``TCP_USER_TIMEOUT``: the kernel aborts such a connection and shutdown
  cannot hang;
- an error in Hypercorn's protocol layer (a stray byte after an upgrade request) takes ``serve`` down with its
  sibling tasks, i.e. the set: each connection is isolated so only that connection dies.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve, tcp_server

STALLED_CLIENT_MS = 5000
"""A connection whose peer has not acknowledged our data for this long is aborted by the kernel."""


def _isolate_connections() -> None:
    original = tcp_server.TCPServer.run
    if getattr(original, "_bergain_isolated", False):
        return

    async def run(self: Any) -> None:
        try:
            await original(self)
        except Exception as exc:  # trio.Cancelled is a BaseException: shutdown still propagates
            logging.getLogger("hypercorn.error").warning("connection crashed: %r", exc)
            with contextlib.suppress(Exception):
                await self.stream.aclose()

    run._bergain_isolated = True  # type: ignore[attr-defined]
    tcp_server.TCPServer.run = run


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the API on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose accepted connections abort when their peer stalls."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, STALLED_CLIENT_MS)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_app(
    app: Any,
    sock: socket.socket,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``sock`` (from ``listen``, which raises ``OSError`` for an address that cannot be bound, before
    anything plays) until cancelled; ``nursery.start`` returns the bound port (real even for 0)."""
    _isolate_connections()
    bound = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 0.5
    config.keep_alive_timeout = 30
    await serve(app, config, task_status=_PortStatus(task_status, bound))  # type: ignore[arg-type]


class _PortStatus:
    """Hypercorn reports bind URLs; callers want the port."""

    def __init__(self, status: trio.TaskStatus[int], port: int) -> None:
        self._status = status
        self._port = port

    def started(self, value: Any = None) -> None:
        self._status.started(self._port)
