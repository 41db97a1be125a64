"""A fault-injecting OpenAI-compatible (and Anthropic-shaped) HTTP server, for the router's tests and bench.

Real sockets on 127.0.0.1, a minimal HTTP/1.1 with keep-alive, and a ``mode`` switchable at runtime:

- ``ok``: a canned answer (``answer``), ``malformed``: a body that is not JSON, ``bad_request``: a 400 (the
  caller's fault), ``error500``, ``rate_limit``: 429 with ``Retry-After: retry_after``;
- ``hang``: read the request and never answer; ``trickle``: the right answer, one byte every ``trickle_s``;
  ``slow``: the right answer after ``delay_s`` (a model on a loaded machine);
- ``refuse``: stop listening (connections are refused), ``proxy``: forward to ``proxy_to`` (e.g. the real local
  server);
- ``echo_key``: a 401 whose message repeats the API key the request carried (as some providers do), in the body and
  in a header;
- ``score``: a stand-in model for choices (``bergain_actors.choice``): each request gets the digits'
  log-probabilities as a function of its messages alone, once ``hold(body)`` returns (a test's delay): the same
  questions get the same answers, whenever they come.

Only POSTs are subject to the mode and counted (``posts``, ``hits``, ``bodies``, ``headers``); ``GET /v1/models``
always answers: with ``models_status`` (a 401 for a key it refuses), one byte every ``trickle_s`` when
``models_trickle`` is set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Literal

import httpx
import trio

Mode = Literal[
    "ok",
    "malformed",
    "bad_request",
    "error500",
    "rate_limit",
    "hang",
    "trickle",
    "slow",
    "refuse",
    "proxy",
    "echo_key",
    "score",
]
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}


class FaultServer:
    def __init__(self, answer: str = '{"ok": true}', proxy_to: str = "") -> None:
        self.mode: Mode = "ok"
        self.answer = answer
        self.proxy_to = proxy_to.rstrip("/")
        self.retry_after = 1.0
        self.trickle_s = 0.05
        self.delay_s = 1.0
        self.models_trickle = False
        self.models_status = 200
        self.hold: Callable[[dict[str, object]], Awaitable[None]] | None = None
        """``score``: awaited with the request's body before it is answered (None: answer at once)."""
        self.port = 0
        self.posts = 0
        self.hits: list[str] = []
        """The mode each POST met, in order."""
        self.bodies: list[dict[str, object]] = []
        """Each POST's JSON body, in order."""
        self.headers: list[dict[str, str]] = []
        """Each request's headers (lower-case names), GETs included, in order."""
        self._posted = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._scope: trio.CancelScope | None = None
        self._closed = trio.Event()
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def run(self, *, task_status: trio.TaskStatus[FaultServer] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``await nursery.start(server.run)`` returns once it listens."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._listen()
                task_status.started(self)
                await trio.sleep_forever()  # keeps the nursery open while ``refuse`` has no listener in it
        finally:
            if self._client is not None:
                with trio.CancelScope(shield=True):
                    await self._client.aclose()

    async def set_mode(self, mode: Mode) -> None:
        """Switch mode; returns once the listening socket is closed (``refuse``) or open again."""
        self.mode = mode
        if mode == "refuse" and self._scope is not None:
            self._scope.cancel()
            await self._closed.wait()
        elif mode != "refuse" and self._scope is None:
            await self._listen()

    async def wait_posts(self, count: int) -> None:
        """Until the server has received ``count`` POSTs in all."""
        while self.posts < count:
            await self._posted.wait()

    async def _listen(self) -> None:
        assert self._nursery is not None
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        self._scope = trio.CancelScope()
        self._closed = trio.Event()
        self._nursery.start_soon(self._serve, listeners, self._scope, self._closed)

    async def _serve(self, listeners: list[trio.SocketListener], scope: trio.CancelScope, closed: trio.Event) -> None:
        try:
            with scope:
                await trio.serve_listeners(self._connection, listeners)
        finally:
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()
            if self._scope is scope:
                self._scope = None
            closed.set()

    async def _connection(self, stream: trio.SocketStream) -> None:
        buffer = b""
        try:
            while True:
                request, buffer = await _read_request(stream, buffer)
                if request is None:
                    return
                method, path, headers, body = request
                self.headers.append(headers)
                if method != "POST":
                    await self._models(stream)
                    continue
                mode = self.mode
                self.posts += 1
                self.hits.append(mode)
                self.bodies.append(json.loads(body or b"{}"))
                self._posted.set()
                self._posted = trio.Event()
                await self._answer(stream, mode, path, headers, body)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            await stream.aclose()

    async def _answer(
        self, stream: trio.SocketStream, mode: Mode, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        if mode == "hang":
            await trio.sleep_forever()
        if mode == "echo_key":
            key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
            error = {"error": {"message": f"Incorrect API key provided: {key}. Check it at your provider."}}
            await _respond(stream, 401, error, {"X-Rejected-Key": key})
            return
        if mode == "malformed":
            await _send(stream, 200, b'{"choices": [{"message": ')
        elif mode == "bad_request":
            await _respond(stream, 400, {"error": {"message": "response_format json_schema is not supported"}})
        elif mode == "error500":
            await _respond(stream, 500, {"error": {"message": "injected server error"}})
        elif mode == "rate_limit":
            error = {"error": {"message": "slow down"}}
            await _respond(stream, 429, error, {"Retry-After": f"{self.retry_after:g}"})
        elif mode == "proxy":
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=None)
            target = self.proxy_to + path.removeprefix("/v1")
            response = await self._client.post(target, content=body, headers={"Content-Type": "application/json"})
            await _send(stream, response.status_code, response.content)
        elif mode == "score":
            request = json.loads(body or b"{}")
            if self.hold is not None:
                await self.hold(request)
            await _respond(stream, 200, _scored(request))
        else:
            payload = json.dumps(self._payload(path, body)).encode()
            if mode == "trickle":
                await self._trickle(stream, payload)
            elif mode == "slow":
                await trio.sleep(self.delay_s)
                await _send(stream, 200, payload)
            else:
                await _send(stream, 200, payload)

    async def _models(self, stream: trio.SocketStream) -> None:
        if self.models_status != 200:
            error = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            await _respond(stream, self.models_status, error)
            return
        models = json.dumps({"object": "list", "data": [{"id": "fault-model"}]}).encode()
        await (self._trickle(stream, models) if self.models_trickle else _send(stream, 200, models))

    async def _trickle(self, stream: trio.SocketStream, payload: bytes) -> None:
        await stream.send_all(_head(200, len(payload)))
        for i in range(len(payload)):
            await stream.send_all(payload[i : i + 1])
            await trio.sleep(self.trickle_s)

    def _payload(self, path: str, body: bytes) -> dict[str, object]:
        model = json.loads(body or b"{}").get("model", "fault-model")
        if path.endswith("/messages"):
            usage = {"input_tokens": 10, "output_tokens": 5}
            content = [{"type": "text", "text": self.answer}]
            return {"type": "message", "model": model, "content": content, "usage": usage}
        message = {"role": "assistant", "content": self.answer}
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        choices = [{"index": 0, "message": message}]
        return {"object": "chat.completion", "model": model, "choices": choices, "usage": usage}


def _scored(request: dict[str, object]) -> dict[str, object]:
    """A one-token answer whose digits' log-probabilities are a digest of the messages (a deterministic model)."""
    text = json.dumps(request.get("messages", []), sort_keys=True)
    listed = []
    for digit in "123456789":
        digest = hashlib.blake2b(f"{digit}|{text}".encode(), digest_size=4).digest()
        listed.append({"token": digit, "logprob": -round(int.from_bytes(digest, "big") / 2**32 * 6, 4)})
    best = max(listed, key=lambda entry: entry["logprob"])
    logprobs = {"content": [{"token": best["token"], "logprob": best["logprob"], "top_logprobs": listed}]}
    message = {"role": "assistant", "content": best["token"]}
    usage = {"prompt_tokens": len(text) // 4, "completion_tokens": 1, "total_tokens": len(text) // 4 + 1}
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "logprobs": logprobs}],
        "usage": usage,
    }


async def _read_request(
    stream: trio.SocketStream, buffer: bytes
) -> tuple[tuple[str, str, dict[str, str], bytes] | None, bytes]:
    """One request (method, path, headers with lower-case names, body) and what is left of the buffer; None at end
    of stream."""
    while b"\r\n\r\n" not in buffer:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    while len(buffer) < length:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    return (method, path, headers, buffer[:length]), buffer[length:]


def _head(status: int, length: int, extra: dict[str, str] | None = None) -> bytes:
    headers = {"Content-Type": "application/json", "Content-Length": str(length), **(extra or {})}
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(stream: trio.SocketStream, status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
    await stream.send_all(_head(status, len(payload), extra) + payload)


async def _respond(stream: trio.SocketStream, status: int, data: object, extra: dict[str, str] | None = None) -> None:
    await _send(stream, status, json.dumps(data).encode(), extra)
