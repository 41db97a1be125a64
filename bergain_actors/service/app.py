"""The HTTP API of a set (or of the router alone): Starlette routes over a ``Session``.

Request bodies are decoded strictly by msgspec (unknown fields are errors): malformed JSON is 400, a wrong type or
a missing or unknown field is 422 naming the field, a body over ``MAX_BODY`` is 413. Every error, whatever its
status (an unknown path 404, a wrong method 405, a crash 500), is the same JSON shape: ``Problem``. Every request
that changes something becomes an event first and its answer carries that event's seq; read-only requests are
not logged. Binding anywhere but loopback requires a bearer token (``Authorization: Bearer ...``, or ``?token=``
for the dashboard's EventSource, which cannot send headers); ``/mcp`` (the MCP server, streamable HTTP) takes the
same.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from bergain_actors import control
from bergain_actors.core import events as ev
from bergain_actors.core.scenario import ProviderConfig
from bergain_actors.service import chat
from bergain_actors.service.mcp_tools import SetTools
from bergain_actors.service.replies import (
    AskReply,
    ClipReply,
    CommandReply,
    Health,
    Problem,
    ProviderReply,
    ProviderView,
    Unavailable,
)
from bergain_actors.service.session import Session

MAX_BODY = 64 * 1024
"""No request needs more: a prompt, a question, a command, a provider's settings."""

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class AskBody(msgspec.Struct, forbid_unknown_fields=True):
    question: Text
    conversation: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "default"
    confirm: bool = False
    """Send the command this conversation's last answer proposed (``proposed``), as if typed; ``question`` is
    then only logged in the conversation."""


class ClipBody(msgspec.Struct, forbid_unknown_fields=True):
    prompt: Text
    target: Literal["set", "ableton", "none"] = "set"
    """``set``: a new layer in the running set from the next phrase; ``ableton``: a clip in Live; ``none``:
    just the notes."""
    track: str = ""
    slot: Annotated[int, msgspec.Meta(ge=-1)] = -1


class ControlBody(msgspec.Struct, forbid_unknown_fields=True):
    command: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    """A command exactly as typed in the terminal during a set, e.g. ``swap critic none``."""


B = TypeVar("B")


class BadRequest(Exception):
    def __init__(self, status: int, problem: Problem) -> None:
        self.status = status
        self.problem = problem


def _field(message: str) -> str:
    found = re.search(r"at `\$\.?([^`]*)`", message)
    if found:
        return found.group(1)
    missing = re.search(r"missing required field `([^`]+)`", message)
    if missing:
        return missing.group(1)
    unknown = re.search(r"unknown field `([^`]+)`", message)
    return unknown.group(1) if unknown else ""


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is known to be over ``MAX_BODY`` (declared or streamed)."""
    too_large = BadRequest(413, Problem(f"request body over {MAX_BODY} bytes"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large
    return bytes(body)


async def decode_body(request: Request, kind: type[B]) -> B:
    body = await read_body(request)
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise BadRequest(422, Problem(str(exc), _field(str(exc)))) from None
    except msgspec.DecodeError as exc:
        why = str(exc).removeprefix("JSON is malformed: ")  # msgspec's own words would say it twice
        raise BadRequest(400, Problem(f"malformed JSON: {why}")) from None


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json", headers=headers)


async def http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such path, a method the path does not take) in the API's JSON shape."""
    assert isinstance(exc, HTTPException)
    return reply(Problem(f"{exc.detail}: {request.method} {request.url.path}"), exc.status_code, exc.headers)


async def crashed(request: Request, exc: Exception) -> Response:
    """A bug in a handler: a JSON 500 naming it (the set plays on; the connection is answered)."""
    return reply(Problem(f"internal error: {type(exc).__name__}: {exc}"), 500)


class Api:
    """The routes, bound to one session."""

    def __init__(self, session: Session, *, token: str | None = None, host: str = "127.0.0.1") -> None:
        self.session = session
        self.token = token
        self.memory = chat.Memory()
        self.mcp = SetTools(session, self.memory, host)
        """``/mcp``: serve inside ``self.mcp.manager.run()``, whose task group holds the MCP sessions."""
        self.app = Starlette(routes=self.routes(), exception_handlers={HTTPException: http_problem, Exception: crashed})

    def routes(self) -> list[Route]:
        def route(path: str, fn: Callable[..., Awaitable[Response]], *methods: str) -> Route:
            return Route(path, self._guard(fn), methods=list(methods or ("GET",)))

        return [
            route("/", self.dashboard),
            route("/favicon.ico", self.favicon),
            route("/favicon.svg", self.favicon),
            route("/health", self.health),
            route("/providers", self.providers),
            route("/providers", self.add_provider, "POST"),
            route("/providers/{name}/reset", self.provider_op("reset"), "POST"),
            route("/providers/{name}/switch", self.provider_op("switch"), "POST"),
            route("/providers/{name}", self.provider_op("remove"), "DELETE"),
            route("/ask", self.ask, "POST"),
            route("/clip", self.clip, "POST"),
            route("/control", self.control, "POST"),
            route("/events", self.events),
            route("/openapi.json", self.openapi),
            Route("/mcp", _Guarded(self, self.mcp.serve_http), max_body_size=MAX_BODY),  # the others: read_body
        ]

    def _guard(self, fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            if self.token is not None and not self._authorized(request):
                return reply(Problem("missing or wrong bearer token"), 401)
            try:
                return await fn(request)
            except BadRequest as exc:
                return reply(exc.problem, exc.status)

        return guarded

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        token = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
        token = token or request.query_params.get("token", "")
        return bool(token) and hmac.compare_digest(token.encode(), (self.token or "").encode())

    # --- reading --------------------------------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        page = resources.files("bergain_actors.service").joinpath("static/dashboard.html").read_text("utf-8")
        return HTMLResponse(page)

    async def favicon(self, request: Request) -> Response:
        icon = resources.files("bergain_actors.service").joinpath("static/favicon.svg").read_bytes()
        return Response(icon, media_type="image/svg+xml", headers={"cache-control": "max-age=86400"})

    async def health(self, request: Request) -> Response:
        session = self.session
        return reply(
            Health(
                status="ok",
                uptime_s=round(time.monotonic() - session.started, 3),
                playing=session.plays and not session.view.ended,
                set=session.view.snapshot(),
                providers={row.name: row.state for row in session.providers()},
                lm=session.router() is not None,
            )
        )

    async def providers(self, request: Request) -> Response:
        return reply(self.session.providers())

    async def events(self, request: Request) -> Response:
        return StreamingResponse(
            self.session.stream.subscribe(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def openapi(self, request: Request) -> Response:
        return reply(openapi_document())

    # --- changing -------------------------------------------------------------------------------------------------

    async def add_provider(self, request: Request) -> Response:
        """Logged like any command; a refusal (a name taken, an unknown kind, a key variable the operator did not
        allow) is 409 or 422 with the router's reason, and changes nothing."""
        config = await decode_body(request, ProviderConfig)
        settings = {k: v for k, v in msgspec.to_builtins(config).items() if k != "name"}
        router = self.session.router()
        taken = router is not None and config.name in router.slots
        answer = self.session.desk.apply(
            ev.ProviderControl(op="add", provider=config.name, config=settings, request_id=_rid(request))
        )
        if not answer.ok:
            return reply(Problem(answer.text, "name" if taken else "", answer.seq), 409 if taken else 422)
        return reply(ProviderReply(answer.seq, config.name, "add"), 202)

    def provider_op(self, op: Literal["reset", "switch", "remove"]) -> Callable[[Request], Awaitable[Response]]:
        async def apply(request: Request) -> Response:
            name = request.path_params["name"]
            router = self.session.router()
            if router is None or name not in router.slots:
                return reply(Problem(f"no provider named {name!r}", "name"), 404)
            event = self.session.publish(ev.ProviderControl(op=op, provider=name, request_id=_rid(request)))
            return reply(ProviderReply(event.seq, name, op), 202)

        return apply

    async def control(self, request: Request) -> Response:
        body = await decode_body(request, ControlBody)
        parsed = control.parse(body.command)
        if isinstance(parsed, control.Help):
            return reply(CommandReply(True, parsed.text))
        if not self.session.plays and not isinstance(parsed, ev.ProviderControl):
            return reply(Problem("no set is playing here: only provider commands apply", "command"), 409)
        if self.session.view.ended:
            return reply(Problem(f"the set has ended ({self.session.view.ended})", "command"), 409)
        if "request_id" in type(parsed).__struct_fields__:
            parsed = msgspec.structs.replace(parsed, request_id=_rid(request))
        answer = self.session.desk.apply(parsed)
        if not answer.ok:
            return reply(Problem(answer.text, "command", answer.seq), 422)
        return reply(CommandReply(True, answer.text, answer.seq), 202)

    async def ask(self, request: Request) -> Response:
        body = await decode_body(request, AskBody)
        if body.confirm:
            line = self.memory.proposed.pop(body.conversation, None)
            if line is None:
                return reply(Problem("nothing to confirm: no command proposed in this conversation", "confirm"), 409)
            if not self.session.plays:
                return reply(Problem("no set is playing here: nothing to send the command to", "confirm"), 409)
            sent = self.session.desk.submit(line)
            if not sent.ok:
                return reply(Problem(sent.text, "confirm", sent.seq), 422)
            return reply(CommandReply(True, f"sent {line!r}: {sent.text}", sent.seq), 202)
        try:
            return reply(await chat.converse(self.session, self.memory, body.question, body.conversation))
        except chat.EmptyQuestion as exc:
            return reply(Problem(str(exc), "question"), 422)

    async def clip(self, request: Request) -> Response:
        from bergain_actors.service import clips

        body = await decode_body(request, ClipBody)
        try:
            made = await clips.make_clip(
                self.session,
                body.prompt,
                target=body.target,
                track=body.track,
                slot=body.slot,
                request_id=_rid(request),
            )
        except clips.ClipError as exc:  # the prompt's problem, or the target's ("target: no set is playing")
            return reply(Problem(str(exc), "target" if str(exc).startswith("target:") else "prompt"), 422)
        return reply(made, 201)

    def _unavailable(self, failed: ev.LMFailed) -> Response:
        error = f"no LM provider could answer: {failed.reason}"
        return reply(Unavailable(error, failed.attempts, self.session.providers()), 503)


class _Guarded:
    """An ASGI app (the MCP endpoint) behind the API's bearer-token rule."""

    def __init__(self, api: Api, app: Callable[[Any, Any, Any], Awaitable[None]]) -> None:
        self.api = api
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.api.token is not None and not self.api._authorized(Request(scope)):
            await reply(Problem("missing or wrong bearer token"), 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _rid(request: Request) -> str:
    return request.headers.get("x-request-id", "")[:64] or f"http-{id(request):x}"


def openapi_document() -> dict[str, Any]:
    bodies = [AskBody, ClipBody, ControlBody, ProviderConfig, Problem]
    answers = [Health, ProviderView, ProviderReply, CommandReply, AskReply, ClipReply, Unavailable]
    _, components = msgspec.json.schema_components(bodies + answers, ref_template="#/components/schemas/{name}")

    def body(kind: type) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{kind.__name__}"}
        return {"required": True, "content": {"application/json": {"schema": ref}}}

    def op(summary: str, kind: type | None = None, **responses: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "summary": summary,
            "responses": {k[1:]: {"description": v} for k, v in responses.items()},
        }
        if kind is not None:
            doc["requestBody"] = body(kind)
        return doc

    bad = {"_400": "malformed JSON", "_422": "invalid field", "_413": "body too large"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bergain-actors", "version": _version()},
        "paths": {
            "/health": {"get": op("set position, brain, provider states, uptime", _200="ok")},
            "/providers": {
                "get": op("providers: circuits, failures, latencies, cooldown left", _200="ok"),
                "post": op(
                    "add a provider (an event)",
                    ProviderConfig,
                    _202="added",
                    _409="the name is taken",
                    **{**bad, "_422": "invalid field, or refused: unknown kind, key variable not allowed"},
                ),
            },
            "/providers/{name}/reset": {"post": op("close a provider's circuit", _202="logged", _404="unknown")},
            "/providers/{name}/switch": {"post": op("make a provider preferred", _202="logged", _404="unknown")},
            "/providers/{name}": {"delete": op("remove a provider", _202="logged", _404="unknown")},
            "/ask": {"post": op("chat with the session's context", AskBody, _200="answer", _503="no LM", **bad)},
            "/clip": {"post": op("prompt → MIDI clip", ClipBody, _201="clip", _503="no LM", **bad)},
            "/control": {"post": op("a terminal command (an event)", ControlBody, _202="logged", **bad)},
            "/events": {"get": op("Server-Sent Events: every event of the set, in seq order", _200="stream")},
        },
        "components": {"schemas": components},
    }


def _version() -> str:
    from bergain_actors import __version__

    return __version__
