"""Re-running the RLM program on ``replay --verify``, from the recorded LM answers and tool results."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec

from bergain_actors.actors.conductor.rlm import program
from bergain_actors.actors.conductor.rlm.program import Halt, LMDown
from bergain_actors.core import events as ev

Mismatch = tuple[int, ev.Event | None, ev.Event | None]


class ReplayBridge:
    """Serves one run's recording and checks the program against it: tool calls and steps must come in the logged
    order; LM requests are matched by content and occurrence (``llm_query_batched`` sends them in any order)."""

    def __init__(self, items: list[ev.Event], answers: dict[Any, ev.Event]) -> None:
        self.ordered = [e for e in items if not isinstance(e, ev.LMRequest)]
        self.requests = [e for e in items if isinstance(e, ev.LMRequest)]
        self.used: set[int] = set()
        self.answers = answers
        self.cursor = 0
        self.mismatch: Mismatch | None = None
        self.halted = False

    def _next(self, produced: ev.Event, same: bool) -> ev.Event:
        """The expected event, or Halt (recording over, or a mismatch noted: Monty would swallow any exception
        raised inside a tool, so the next call raises again)."""
        if self.halted:
            raise Halt
        if self.cursor >= len(self.ordered):
            self.halted = True
            raise Halt
        expected = self.ordered[self.cursor]
        if not same:
            self.mismatch = (expected.seq, expected, msgspec.structs.replace(produced, seq=expected.seq, source="rlm"))
            self.halted = True
            raise Halt
        self.cursor += 1
        return expected

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        expected = self.ordered[self.cursor] if self.cursor < len(self.ordered) else None
        same = isinstance(expected, ev.ToolCall) and (expected.tool, expected.args) == (tool, msgspec.to_builtins(args))
        produced = ev.ToolCall(call_id=getattr(expected, "call_id", 0), tool=tool, args=args)
        call = self._next(produced, same)
        result = self.answers.get(("tool", getattr(call, "call_id", -1)))
        if result is None:
            self.halted = True
            raise Halt
        return getattr(result, "value", None)

    def ask(self, request: ev.LMRequest) -> str:
        if self.halted:
            raise Halt
        key = _content(request)
        for i, logged in enumerate(self.requests):
            if i not in self.used and _content(logged) == key:
                self.used.add(i)
                answer = self.answers.get(("lm", logged.request_id))
                if answer is None:
                    self.halted = True
                    raise Halt
                if isinstance(answer, ev.LMFailed):
                    raise LMDown(answer.reason)
                return answer.text  # type: ignore[attr-defined]
        expected = next((r for i, r in enumerate(self.requests) if i not in self.used), None)
        if expected is None:  # more calls than recorded: the recording ended (or the program diverges later)
            self.halted = True
            raise Halt
        self.mismatch = (expected.seq, expected, msgspec.structs.replace(request, seq=expected.seq, source="rlm"))
        self.halted = True
        raise Halt

    def step(self, step: ev.RLMStep) -> None:
        expected = self.ordered[self.cursor] if self.cursor < len(self.ordered) else None
        same = isinstance(expected, ev.RLMStep) and _step(expected) == _step(step)
        self._next(step, same)

    def leftover(self) -> Mismatch | None:
        """A complete run must have used its whole recording."""
        left = [e for e in self.ordered[self.cursor :]] + [r for i, r in enumerate(self.requests) if i not in self.used]
        if not left:
            return None
        first = min(left, key=lambda e: e.seq)
        return first.seq, first, None


def check(tape: list[ev.Event], config: program.RunConfig) -> Mismatch | None:
    """Re-run every recorded run of the program; the first event where it differs from the log, or None."""
    answers: dict[Any, ev.Event] = {}
    for event in tape:
        if isinstance(event, ev.ToolResult):
            answers[("tool", event.call_id)] = event
        elif isinstance(event, ev.LMResponse | ev.LMFailed):
            answers[("lm", event.request_id)] = event
    worker = [e for e in tape if e.source == "rlm"]
    index = 0
    while index < len(worker):
        begin = worker[index]
        index += 1
        if not (isinstance(begin, ev.ToolCall) and begin.tool == "begin_run"):
            return begin.seq, begin, None
        start = answers.get(("tool", begin.call_id))
        if start is None:  # the set ended while the worker was asking
            break
        if not start.value.get("go"):  # type: ignore[attr-defined]
            continue
        end = index
        while end < len(worker) and not (isinstance(worker[end], ev.ToolCall) and worker[end].tool == "end_run"):
            end += 1
        complete = end < len(worker)
        bridge = ReplayBridge(worker[index : end + 1], answers)
        with contextlib.suppress(Halt):
            program.run_and_report(bridge, start.value, config)  # type: ignore[attr-defined]
        if bridge.mismatch is not None:
            return bridge.mismatch
        if complete and (problem := bridge.leftover()) is not None:
            return problem
        index = end + 1
    return None


def _content(request: ev.LMRequest) -> tuple[Any, ...]:
    return request.purpose, request.model, msgspec.to_builtins(request.messages), request.max_tokens


def _step(step: ev.RLMStep) -> tuple[Any, ...]:
    return step.run, step.step, step.reasoning, step.code, step.output
