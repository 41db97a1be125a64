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
"""How long the child may take to load the model and listen. Its own budget, not a request's: live, the child runs
niced, so on a busy machine loading and warming up takes a minute (0.4 s when idle); nothing waits on it live."""
LIVE_NICE = 2
"""How far the child's priority is lowered while a set plays in real time: the model is never more important than
the audio, the scheduler serves the streamer first. Only a little: at 10 a busy machine's other work (two CPU hogs)
left the model a tenth of a core and every phrase late, while rendering a bar takes milliseconds. Offline
(``--fast``, ``--no-audio``, no set) the set waits for each decision, so the child runs at the set's own priority:
niced, it only made the set slower (10x on a busy machine)."""
Status = Literal["started", "exited", "failed"]
OnChange = Callable[[Status, str, str, int], None]


class LocalServer:
    def __init__(
        self, provider: LocalProvider, on_change: OnChange, restart_delay_s: float = 0.5, nice: int = LIVE_NICE
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
            "--nice",
            str(self.nice),
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
            self.on_change("started", f"loaded in {message.get('load_s', 0):.2f} s", message["address"], process.pid)
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
