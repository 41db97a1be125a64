"""Keeps the embedded LM's child process alive for the whole set: start, watch, restart, stop.

Each change is reported through ``on_change(status, detail, address, pid)`` (the router turns it into events and
circuit moves). A failed start or a death waits ``restart_delay_s``, doubled after each failed start (up to 30 s),
and tries again; the process is terminated when the task is cancelled (end of the set, provider removed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import trio

from bergain_actors.actors.router.providers import LocalProvider

PACKAGE_ROOT = Path(__file__).resolve().parents[3]
MAX_RESTART_DELAY_S = 30.0
START_TIMEOUT_S = 180.0
"""How long the child may take to load the model and listen. Its own budget, not a request's: on a busy machine
loading and warming up took a minute (0.4 s when idle); nothing waits on it live."""
LIVE_NICE = -8
"""The child's nice while a set plays in real time, where allowed (``local_server.take_priority``), in a session of
its own: the set itself takes -10 on a device (``sinks.SET_NICE``), the device worker real time, so the audio still
comes first, and the model comes before a build or a browser. Measured at load 13 on 2 cores (three phrase
ballots, 9 prompts): 21 s in the set's session whatever its nice (the kernel's autogroup gives each session an
equal share), 5.7 s in a session of its own at -8 (it was +2 below the set, in its session). Offline (``--fast``,
``--no-audio``, no set) the set waits for each decision, so the child stays in the set's session at its priority
(``None``)."""
Status = Literal["started", "exited", "failed"]
OnChange = Callable[[Status, str, str, int], None]


class LocalServer:
    def __init__(
        self,
        provider: LocalProvider,
        on_change: OnChange,
        restart_delay_s: float = 0.5,
        nice: int | None = LIVE_NICE,
    ) -> None:
        self.provider = provider
        self.on_change = on_change
        self.restart_delay_s = restart_delay_s
        self.nice = nice
        self.process: trio.Process | None = None
        self.starts = 0
        self._scope = trio.CancelScope()

    def command(self) -> list[str]:
        config = self.provider.config
        return [
            sys.executable,
            "-m",
            "bergain_actors.actors.router.local_server",
            "--model",
            str(self.provider.model_path),
            "--alias",
            self.provider.model,
            "--n-ctx",
            str(config.n_ctx),
            "--threads",
            str(config.threads),
            "--batch-threads",
            str(config.batch_threads),
            *(["--priority", str(self.nice)] if self.nice is not None else []),
        ]

    async def run(self) -> None:
        """Serve until cancelled (or ``stop``), restarting the child whenever it dies."""
        delay = self.restart_delay_s
        with self._scope:
            while True:
                if await self._serve_once():
                    delay = self.restart_delay_s
                await trio.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_DELAY_S)

    def stop(self) -> None:
        self._scope.cancel()

    def kill_now(self) -> None:
        """Last resort from synchronous code (the actor's ``close``): never leave the child behind."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    async def _serve_once(self) -> bool:
        """Start the child and wait for it to die; True if it started."""
        path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONPATH=path)
        self.provider.state = "starting"
        process = await trio.lowlevel.open_process(
            self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self.process = process
        try:
            message = await self._handshake(process)
            if "address" not in message:
                self.provider.state = "failed"
                self.on_change("failed", str(message.get("error", message)), "", process.pid)
                return False
            self.starts += 1
            self.provider.set_address(f"{message['address']}/v1")
            self.provider.state = "running"
            priority = f"; {message['priority']}" if message.get("priority") else ""
            detail = f"loaded in {message.get('load_s', 0):.2f} s{priority}"
            self.on_change("started", detail, message["address"], process.pid)
            code = await process.wait()
            self.provider.set_address("")
            self.provider.state = "restarting"
            self.on_change("exited", f"exit code {code}", "", process.pid)
            return True
        finally:
            self.provider.set_address("")
            with trio.CancelScope(shield=True):
                await _terminate(process)

    async def _handshake(self, process: trio.Process) -> dict[str, object]:
        """The child's one JSON line (its address, or why it could not start)."""
        assert process.stdout is not None
        buffer = b""
        with trio.move_on_after(START_TIMEOUT_S) as scope:
            while b"\n" not in buffer:
                chunk = await process.stdout.receive_some()
                if not chunk:
                    return {"error": f"exited before listening (code {await process.wait()})"}
                buffer += chunk
        if scope.cancelled_caught:
            return {"error": "did not start in time"}
        try:
            message = json.loads(buffer.split(b"\n", 1)[0])
        except ValueError:
            return {"error": f"unexpected output {buffer[:80]!r}"}
        return message if isinstance(message, dict) else {"error": f"unexpected output {message!r}"}


async def _terminate(process: trio.Process) -> None:
    """Close its stdin (it exits by itself), then SIGTERM, then SIGKILL."""
    if process.stdin is not None:
        await process.stdin.aclose()
    if process.returncode is None:
        process.terminate()
        with trio.move_on_after(3):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    if process.stdout is not None:
        await process.stdout.aclose()
