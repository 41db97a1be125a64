"""Seeded randomness as a pure function of (seed, actor, bar, purpose).

Each draw site gets its own stream, so swapping one actor or adding a draw never shifts another's dice, and a
replay sees exactly the numbers the live set saw.
"""

from __future__ import annotations

import hashlib
import random


def rng(seed: int, actor: str, bar: int, purpose: str) -> random.Random:
    """A fresh generator for one decision. Python's ``random.Random`` is seeded from a stable digest (never
    ``hash()``, which is salted per process)."""
    digest = hashlib.blake2b(f"{seed}|{actor}|{bar}|{purpose}".encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))
