"""structlog, configured once: readable lines for people (coloured on a terminal), JSON lines when asked
(``--log-json``, or ``run --log-format json``)."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(*, json: bool = False, quiet: bool = False) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
