"""API keys stay out of the set's text: every configured key is replaced by a marker naming its variable in
anything the router turns into an event or a log line, whatever a provider echoed back (a 401 body that repeats
the key is common). The log and the console only ever see what passed through here.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

MIN_LENGTH = 8
"""Shorter values are no real keys, and replacing them would mangle ordinary text (an LM answer, a number)."""

S = TypeVar("S", bound=msgspec.Struct)


class Secrets:
    def __init__(self) -> None:
        self._markers: dict[str, str] = {}
        """Key value → what replaces it, longest first so a key containing another is replaced whole."""

    def add(self, value: str, variable: str) -> None:
        if len(value) >= MIN_LENGTH and value not in self._markers:
            self._markers[value] = f"[redacted ${variable}]"
            self._markers = dict(sorted(self._markers.items(), key=lambda item: -len(item[0])))

    def text(self, text: str) -> str:
        for value, marker in self._markers.items():
            if value in text:
                text = text.replace(value, marker)
        return text

    def struct(self, struct: S) -> S:
        """``struct`` (an event) with every string in it redacted; the same object when there was nothing to hide."""
        if not self._markers:
            return struct
        raw = msgspec.to_builtins(struct)
        clean = self._walk(raw)
        return struct if clean == raw else msgspec.convert(clean, type(struct))

    def fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {key: self._walk(value) for key, value in fields.items()}

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v) for v in value]
        return value
