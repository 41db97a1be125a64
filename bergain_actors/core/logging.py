"""structlog, configured once: readable on a terminal, JSON lines when piped or asked."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(*, json: bool = False, quiet: bool = False) -> None:
    as_json = json or not sys.stderr.isatty()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING if quiet else logging.INFO),
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),  # the stderr of the moment, not of import
        cache_logger_on_first_use=False,
    )
