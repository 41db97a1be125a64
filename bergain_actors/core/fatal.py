"""The one failure that ends a set instead of restarting an actor: the world cannot take the set any further."""

from __future__ import annotations


class SetCannotContinue(Exception):
    """The set cannot be recorded (a full disk: the log or the WAV cannot be written). The supervisor ends the set
    as cleanly as a ``stop`` instead of restarting the actor that hit it, and ``run`` exits 1 with this message,
    which is one line meant for the user."""


def fatal_in(exc: BaseException) -> SetCannotContinue | None:
    """The ``SetCannotContinue`` inside ``exc`` (trio groups what a nursery's tasks raise), if there is one."""
    if isinstance(exc, SetCannotContinue):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = fatal_in(inner)
            if found is not None:
                return found
    return None
