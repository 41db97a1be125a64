"""A pack's decoded audio in memory shared with the render worker: decoded once, by the set's process, and held by
neither process until it plays it.

The set's process writes each sample as it decodes it (``pwrite`` into a memfd: the pages are the file's, not mapped
into the process, so they count in no one's resident memory) and keeps only a read-only mapping of them; the render
worker maps the same file. A page comes into a process's memory when that process reads it: the worker holds the
samples the set plays (the 60-minute autopilot set: 12 of the pack's 18 MB), the set's process none unless it has
to render itself (its worker lost). Both render the very bytes the set decoded: no second decode can differ.
"""

from __future__ import annotations

import mmap
import os

import numpy as np

ALIGN = mmap.PAGESIZE
"""Each sample starts on a page of its own: reading one brings in none of its neighbours."""


class SharedAudio:
    """Float32 stereo samples, by id, in one memfd: ``put`` while decoding, then ``view``. The worker, given the
    file, its ``size`` and ``layout``, makes one over the same pages and only views."""

    def __init__(self, fd: int, size: int = 0, layout: dict[str, tuple[int, int]] | None = None) -> None:
        self.fd = fd
        self.size = size
        self.layout: dict[str, tuple[int, int]] = layout if layout is not None else {}
        """(offset in bytes, frames) of each sample."""
        self._memory: mmap.mmap | None = None

    @classmethod
    def create(cls) -> SharedAudio:
        return cls(os.memfd_create("bergain-pack"))

    def put(self, sample_id: str, data: np.ndarray) -> None:
        """Write ``data`` ((frames, 2) float32) as sample ``sample_id``; views made before are unaffected."""
        data = np.ascontiguousarray(data, np.float32)
        if data.ndim != 2 or data.shape[1] != 2:
            raise ValueError(f"{sample_id}: shared audio is stereo frames, got shape {data.shape}")
        offset = self.size
        written, raw = 0, memoryview(data).cast("B")
        while written < len(raw):
            written += os.pwrite(self.fd, raw[written:], offset + written)
        self.layout[sample_id] = (offset, data.shape[0])
        self.size = -(-(offset + data.nbytes) // ALIGN) * ALIGN
        os.ftruncate(self.fd, self.size)

    def view(self, sample_id: str) -> np.ndarray:
        """Sample ``sample_id`` as a read-only array over the shared pages (the file is mapped at the first view,
        as long as it is then: ``put`` after a view is not seen through it)."""
        if self._memory is None:
            self._memory = mmap.mmap(self.fd, self.size, access=mmap.ACCESS_READ)
        offset, frames = self.layout[sample_id]
        return np.ndarray((frames, 2), np.float32, buffer=self._memory, offset=offset)

    def close(self) -> None:
        """Close the file (the mapping stays as long as views of it do)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
