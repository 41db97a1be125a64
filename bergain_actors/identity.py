"""Which code wrote a log: the package version and a hash of its Python source, recorded in every log header so
that a replay by other code says so instead of failing mysteriously."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from bergain_actors import __version__

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def source_hash() -> str:
    """SHA-256 (first 16 hex digits) over the package's ``.py`` files, names and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def differs(version: str, source: str) -> str:
    """Why code that wrote a log (``version``, ``source`` hash) is not this code; empty when it is (or unknown)."""
    if not source:
        return "" if version == __version__ else f"bergain-actors {version}, this is {__version__}"
    if (version, source) == (__version__, source_hash()):
        return ""
    return f"bergain-actors {version} (source {source}), this is {__version__} (source {source_hash()})"
