"""Render one BarPlan to float32 stereo audio: exact timing, carried-over tails, continuous loops, no clipping.

The renderer is a pure function of the sequence of plans it has been given (plus the pack): no clock, no
randomness, so replaying the logged plans reproduces the WAV bit for bit.

Time is kept as an exact `Fraction` of frames. Bar k covers frames [floor(start_k), floor(start_k + length)), so
rounding never accumulates: 1000 bars at 128 BPM are exactly round(1000 * 82687.5) frames long.

One-shots are summed into an accumulator that outlives the bar; whatever sounds past the bar line is played at
the start of the next bar(s). The steady one-shot layers (no ramp, no filter) are first summed into a bus, cached
by the layers and their onsets, so a bar that repeats costs one add for all of them, reverb tails included; a bus
is summed the same way whether it is cached or not, so the output never depends on the cache. Loops are read by
bar index, so an N-bar loop walks through all N bars. A loop whose tagged BPM differs from the plan's is resampled
to the plan's tempo (windowed sinc): like a turntable, its pitch moves with the tempo. At equal tempo the loop is
copied as is. A loop without a BPM tag is fitted to its bars.
The stretched copy is cached per tempo; making it costs the first bar at a new tempo 50-100 ms per loop bar.

Automation (``music/plan.py``): a gain ramp scales each hit by the level at its onset and a loop by a linear ramp
across the bar; a filter uses a copy of the sample filtered at the cutoff step of each hit's onset, or of each beat
for loops (a sweeping loop: that beat of the loop filtered alone; ``music/effects.py``); sends feed a ping-pong
delay whose line is a buffer indexed like the accumulator, its echoes joining the accumulator. All carried state is
audio due later, a function of the plans rendered so far. Width and reverb are baked into the cached copy of each
sample like a filter (a one-shot's copy carries its reverb tail); each role's levels (pan, the house mix's trim,
``TRIM_DB``, and its fader) multiply the copy as it is added.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Generic, TypeVar

import msgspec
import numpy as np

from bergain_actors.music import copy_cache, effects
from bergain_actors.music.pack import Sample, SamplePack, resample
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Filter, Layer
from bergain_actors.music.voice import tone

MASTER_GAIN = 0.5
"""-6 dB of headroom on the master bus, as a DJ mixer has: a full peak groove of hot samples (kicks peak at 0.95)
sums under the limiter's threshold, so the limiter catches accidents instead of shaping every bar."""

TRIM_DB = {
    "kick": -3.0,
    "bassline": -3.0,
    "bass": -3.0,
    "clap": 3.0,
    "perc": 3.0,
    "ride": 3.0,
    "drum_loop": 2.0,
    "hihat": 1.5,
    "bed": 14.0,
}
"""The house mix: each role's level at unity fader (dB) against the pack's peak-normalized samples. The kick stays
the loudest thing in the room, but the drums on top come up to meet it (untrimmed, kick and bass were 93 % of the
power and a peak centred near 110 Hz). Pads and stabs are left alone: they also carry the breakdown, which must stay
well under the peaks. The arrangement's bed is a high-passed atmosphere whose drone is gone: what is left is quiet
air, brought up to sit 5-6 LU under the groove, where its width makes the mix stereo (with the kick and the bass
mono and 2 dB lower, the room's left and right measure 0.8 correlated rather than 0.96)."""
TRIMS = {role: 10.0 ** (db / 20.0) for role, db in TRIM_DB.items()}

ECHO_REPEATS = 16
"""The delay runs this many periods past its last input (0.42^16: -120 dB), then rests."""

_CACHE_BYTES = 8 << 20
"""Budget for the filtered copies of samples (at unity: the levels multiply them as they are added), the spectra
they are made from and a sweep's spans, so steady-state bars only add views; the stretched and spread copies they
are made of have a budget of their own (``_BASE_BYTES``). The 60-minute autopilot set makes 66 filtered copies and
9 spectra at 8 MB (64 and 5 with no limit; 90 and 54 at 6 MB)."""
_BASE_BYTES = 16 << 20
"""Budget for the stretched and the widened-and-reverberated copies, which cost a transform of a whole sample or
loop each (a 4-bar loop's: 20-50 ms) where a filter step or a span costs a few: kept apart from the filtered ones,
so that a burst of sweeps does not push them out. The 60-minute autopilot set makes each of its 17 once at 16 MB
(15 MB of them); at 12 MB 29, at 8 MB 155. Rendering its 1920 bars took 3.14-3.20 s of CPU with 8 + 16 MB against
3.29-3.45 s with one budget of 24 MB (31 spreads) and 3.00-3.31 s of 64 MB; its render worker's peak RSS: 128 MB
against 144-150 MB."""
_BUS_BYTES = 8 << 20
"""Budget for the steady layers' summed bars: 6-8 of a dense bar's with reverb tails and sends, so the two onset
patterns of 128 BPM (a bar of 82687.5 frames) stay cached through a change of the mix or two; a tempo glide sums
most of its bars again. The 60-minute autopilot set sums 467 buses at 8 MB and 367 at 24 MB for the same CPU time
(3 interleaved renders of its 1920 bars each, 2.68-2.83 s against 2.76-2.86 s) and a peak RSS 30 MB lower."""


T = TypeVar("T")


class _Budgeted(Generic[T]):
    """Least recently used values kept under a byte budget (the newest always stays): copies of samples and summed
    buses are made once and reused bar after bar, while a long set of changing mixes cannot grow without bound."""

    def __init__(self, budget: int, size: Callable[[T], int]) -> None:
        self.budget, self._size = budget, size
        self._values: OrderedDict[tuple, T] = OrderedDict()
        self._bytes = 0
        self.made = 0
        """Values put so far: each was a one-off cost of some bar."""

        self._lock = threading.Lock()
        """Renderers in several threads may share one (a live set renders in a worker thread)."""

    def get(self, key: tuple) -> T | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: tuple, value: T) -> T:
        with self._lock:
            if key in self._values:  # another renderer made it meanwhile: keep the first
                self._values.move_to_end(key)
                return self._values[key]
            self._values[key] = value
            self._bytes += self._size(value)
            self.made += 1
            while self._bytes > self.budget and len(self._values) > 1:
                _, old = self._values.popitem(last=False)
                self._bytes -= self._size(old)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0


_COPIES: _Budgeted[np.ndarray] = _Budgeted(_CACHE_BYTES, lambda copy: copy.nbytes)
"""The copies made from a pack's samples (filtered here; stretched, widened and reverberated in ``_BASES``) depend
on nothing but the samples, the rate and the key: every renderer of the process shares them (a replay after its set,
what-ifs, an evaluation's sets, a test's renderers), each key led by its pack's content hash and rate. A set's first
bars then cost what its steady ones do when an earlier set made the copies."""


_BASES: _Budgeted[np.ndarray] = _Budgeted(_BASE_BYTES, lambda copy: copy.nbytes)
"""The stretched and the widened-and-reverberated copies (``_BASE_BYTES``), shared like ``_COPIES``."""
_BASE_KINDS = frozenset({"stretch", "spread"})


_NOT_ON_DISK = frozenset({"spectrum", "unit circle"})
"""Kept in memory only: a spectrum (complex, twice a copy's size) and a unit circle only serve to make filtered
copies, which are kept on disk themselves."""


class _Scoped:
    """A renderer's view of the shared copies: its keys led by its pack and rate; what it made itself, counted. A
    copy not in memory is looked for on disk (``copy_cache``: kept there by an earlier set) before it is made."""

    def __init__(self, scope: tuple[str, int], pack: SamplePack, disk: copy_cache.DiskCopies | None) -> None:
        self._scope = scope
        self._disk = disk if pack.decoded_by else None  # a pack not decoded from files: its audio has no name
        self._decoded = (pack.content_hash, pack.decoded_by, pack.sample_rate)
        self.made = 0
        self.loaded = 0
        """Copies read back from disk."""

    def get(self, key: tuple) -> np.ndarray | None:
        value = _shared(key).get((self._scope, key))
        if value is None and self._disk is not None and key[0] not in _NOT_ON_DISK:
            value = self._disk.get(self._name(key))
            if value is not None:
                self.loaded += 1
                value = _shared(key).put((self._scope, key), value)
        return value

    def put(self, key: tuple, value: np.ndarray) -> np.ndarray:
        self.made += 1
        if self._disk is not None and key[0] not in _NOT_ON_DISK:
            self._disk.put(self._name(key), value)
        return _shared(key).put((self._scope, key), value)

    def _name(self, key: tuple) -> str:
        """The copy's name on disk: of its sample's audio (the pack's files, as decoded, at the rate: the key names
        the sample) and the key. Not of the audio's bytes: hashing them would read every page of every sample a
        copy is made of, which a set whose copies are on disk never reads otherwise (9 MB of the render worker's
        peak RSS in the 60-minute autopilot set)."""
        return copy_cache.name(self._decoded, key)


def _shared(key: tuple) -> _Budgeted[np.ndarray]:
    return _BASES if key[0] in _BASE_KINDS else _COPIES


def _fit_budgets(on_disk: bool) -> None:
    """Halve the copies' budgets when they are kept on disk (``copy_cache``): a copy pushed out of memory then costs
    a read from the page cache (a millisecond for a 4-bar loop's) where it cost a transform. The 60-minute
    autopilot set, its copies on disk: the render worker's peak RSS 90-92 MB against 102 MB, its CPU 2.70-2.84 s
    against 2.72-2.83 s (at 6 MB for the stretched and spread copies: 3.1-3.4 s)."""
    for shared, full in ((_BASES, _BASE_BYTES), (_COPIES, _CACHE_BYTES)):
        shared.budget = full // 2 if on_disk else full


def forget_copies() -> None:
    """Empty the shared copies: the next bars are cold again (benchmarks measure the cold cost)."""
    _COPIES.clear()
    _BASES.clear()


def _buses_size(buses: tuple[np.ndarray, np.ndarray | None]) -> int:
    return sum(bus.nbytes for bus in buses if bus is not None)


class RenderStats(msgspec.Struct, frozen=True):
    """What the streamer may log about one rendered bar."""

    bar: int
    frames: int
    peak: float
    """Output peak after the limiter (linear, <= 1)."""
    rms: float
    gain_reduction_db: float
    """Deepest limiter gain reduction in this bar (>= 0 dB)."""
    limited_frames: int
    """Frames where the limiter's gain was below unity."""
    clipped_samples: int
    """Samples the final safety clip touched; should stay 0."""
    skipped_layers: int
    """Layers whose sample id is not in the pack."""
    skipped_hits: int
    """Hits outside the bar."""


class Limiter:
    """Block limiter: bit-transparent below `threshold`, smooth gain reduction above it, no added latency.

    Each block of `block` frames (2.9 ms) gets the gain that brings its peak to the threshold; gain recovers at
    `release_db_per_s` (linear in dB, so the whole envelope is a running minimum and vectorizes). Gains are
    interpolated linearly between block boundaries, each boundary taking the smaller gain of its two neighbouring
    blocks: the gain starts falling one block before a peak (a 2.9 ms attack) and no frame of a block ever exceeds
    the threshold. State carries across bars; the one place it cannot look ahead is the bar line, where a
    downbeat that needs more reduction than the previous bar ended with gets it as a step at the first frame.
    """

    def __init__(
        self, sample_rate: int, threshold_db: float = -1.0, block: int = 128, release_db_per_s: float = 30.0
    ) -> None:
        self.threshold = float(10.0 ** (threshold_db / 20.0))
        self.block = block
        self._release = release_db_per_s * block / sample_rate
        self.gain_db = 0.0
        """Gain at the end of the last processed frame."""
        self._ramps = np.zeros(0, np.float32)

    def process(self, x: np.ndarray, peak: float) -> tuple[float, int, float]:
        """Limit `x` (frames, 2) in place, given its peak; return (max reduction dB, frames reduced, new peak)."""
        if self.gain_db == 0.0 and peak <= self.threshold:
            return 0.0, 0, peak
        n, b = x.shape[0], self.block
        nb = -(-n // b)
        block_peak = self._block_peaks(x, nb)
        with np.errstate(divide="ignore"):
            required = np.minimum(0.0, 20.0 * np.log10(self.threshold / np.maximum(block_peak, 1e-30)))
        k = np.arange(nb)
        ramp = self._release * k
        held = np.minimum.accumulate(required - ramp) + ramp
        held = np.minimum(np.minimum(held, self.gain_db + self._release * (k + 1)), 0.0)
        bounds = np.empty(nb + 1)
        bounds[0] = min(self.gain_db, held[0])
        bounds[1:nb] = np.minimum(held[:-1], held[1:])
        bounds[nb] = held[-1]
        self.gain_db = float(bounds[nb])
        active = np.flatnonzero((bounds[:-1] < 0.0) | (bounds[1:] < 0.0))
        if active.size == 0:
            return 0.0, 0, peak
        first, last = int(active[0]), int(active[-1]) + 1
        amp = (10.0 ** (bounds[first : last + 1] / 20.0)).astype(np.float32)
        lo, hi = first * b, min(n, last * b)
        gain = np.repeat(amp[:-1], 2 * b)[: 2 * (hi - lo)]
        slope = np.repeat(amp[1:] - amp[:-1], 2 * b)[: 2 * (hi - lo)]
        slope *= self._ramp(2 * (hi - lo))
        gain += slope
        seg = x[lo:hi].reshape(-1)
        seg *= gain
        untouched = np.concatenate([block_peak[:first], block_peak[last:]])
        new_peak = max(float(untouched.max(initial=0.0)), float(seg.max()), -float(seg.min()))
        return float(-bounds.min()), int(np.count_nonzero(gain < 1.0)) // 2, new_peak

    def _ramp(self, size: int) -> np.ndarray:
        """0, 0, 1/b, 1/b, ... (b-1)/b, (b-1)/b repeated: the in-block position of each interleaved sample."""
        if self._ramps.size < size:
            one = np.repeat(np.arange(self.block, dtype=np.float32) / np.float32(self.block), 2)
            self._ramps = np.tile(one, -(-size // one.size))
        return self._ramps[:size]

    def _block_peaks(self, x: np.ndarray, nb: int) -> np.ndarray:
        """Peak |sample| of each block (both channels)."""
        flat = np.abs(x.reshape(-1))
        return np.maximum.reduceat(flat, np.arange(0, 2 * nb * self.block, 2 * self.block)).astype(np.float64)


class Mastering:
    """The end of the master bus: the limiter (its state carried from bar to bar) and what each bar measured. Apart
    from the mix, so that an offline set's process masters bar N while its render worker mixes bar N+1."""

    def __init__(self, sample_rate: int) -> None:
        self.limiter = Limiter(sample_rate)
        self.engaged_frames = 0
        """Frames, over the whole set so far, where the limiter reduced gain."""

    def finish(self, out: np.ndarray, bar: int, skipped_layers: int, skipped_hits: int) -> RenderStats:
        """Limit bar ``bar`` (``out``, as mixed) in place; what it measured."""
        flat = out.reshape(-1)
        peak = max(float(flat.max(initial=0.0)), -float(flat.min(initial=0.0)))
        if not math.isfinite(peak):
            np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
            peak = max(float(flat.max(initial=0.0)), -float(flat.min(initial=0.0)))
        reduction, limited, peak = self.limiter.process(out, peak)
        self.engaged_frames += limited
        clipped = 0
        if peak > 1.0:
            clipped = int(np.count_nonzero(np.abs(flat) > 1.0))
            np.clip(out, -1.0, 1.0, out=out)
            peak = 1.0
        rms = math.sqrt(float(np.dot(flat, flat)) / flat.size) if flat.size else 0.0
        return RenderStats(
            bar=bar,
            frames=out.shape[0],
            peak=peak,
            rms=rms,
            gain_reduction_db=reduction,
            limited_frames=limited,
            clipped_samples=clipped,
            skipped_layers=skipped_layers,
            skipped_hits=skipped_hits,
        )


class _Grid:
    """Where the ticks of a bar fall, in frames from its first frame, for one tempo and one fractional start. Bars
    that start alike share one (at 128 BPM there are two: every other bar starts half a frame in), so a tick's
    frame is worked out once, and a pattern's frames once."""

    __slots__ = (
        "_at",
        "_bounds",
        "_frac",
        "_per_tick",
        "_starts",
        "after",
        "bar_len",
        "bpm",
        "dotted_eighth",
        "n",
        "tempo",
        "ticks",
    )

    def __init__(self, tempo: tuple[float, int], bpm: Fraction, bar_len: Fraction, frac: Fraction, rate: int) -> None:
        self.tempo, self.bpm, self.bar_len = tempo, bpm, bar_len
        self.ticks = tempo[1] * TICKS_PER_BEAT
        self.n = math.floor(frac + bar_len)
        """The bar's frames."""
        self.after = frac + bar_len - self.n
        """Where the next bar starts: that fraction of a frame after this one's last."""
        self.dotted_eighth = math.floor(bar_len * 3 / (4 * tempo[1]))
        """The delay's time, in frames."""
        self._frac = frac
        self._per_tick = Fraction(60 * rate) / (bpm * TICKS_PER_BEAT)
        self._at: dict[int, int] = {}
        self._starts: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._bounds: dict[int, tuple[int, ...]] = {}

    def at(self, tick: int) -> int:
        """The frame where ``tick`` starts (past the bar too: a note's end)."""
        frame = self._at.get(tick)
        if frame is None:
            frame = self._at[tick] = math.floor(self._frac + tick * self._per_tick)
        return frame

    def starts(self, hits: tuple[int, ...]) -> tuple[int, ...]:
        """The frames where ``hits`` start; -1 for a tick outside the bar."""
        frames = self._starts.get(hits)
        if frames is None:
            frames = self._starts[hits] = tuple(self.at(tick) if 0 <= tick < self.ticks else -1 for tick in hits)
        return frames

    def bounds(self, every: int) -> tuple[int, ...]:
        """The first frame of each segment of ``every`` ticks, and the bar's end."""
        frames = self._bounds.get(every)
        if frames is None:
            frames = self._bounds[every] = (*(self.at(tick) for tick in range(0, self.ticks, every)), self.n)
        return frames


class Renderer:
    """Turns consecutive BarPlans into consecutive bars of audio from one SamplePack."""

    def __init__(
        self, pack: SamplePack, sample_rate: int, master: float = MASTER_GAIN, trims: Mapping[str, float] = TRIMS
    ) -> None:
        if pack.sample_rate != sample_rate:
            raise ValueError(f"pack decoded at {pack.sample_rate} Hz, renderer runs at {sample_rate} Hz")
        self.pack = pack
        self.sample_rate = sample_rate
        self.master = master
        self.trims = trims
        """Linear gain per role on top of the fader (the house mix)."""
        self.mastering = Mastering(sample_rate)
        self.last_stats: RenderStats | None = None
        self.last_skipped = (0, 0)
        """Layers and hits the last bar skipped (``RenderStats``), for a bar rendered unmastered."""
        self._frames = 0
        """Whole frames rendered so far; the next bar starts ``self._frac`` of a frame later."""
        self._frac = Fraction(0)
        self._rings = (
            effects.TAIL_FRAMES
            + effects.DECORRELATOR_FRAMES
            + math.ceil((effects.REVERB_S + effects.REVERB_PREDELAY_S) * sample_rate)
        )
        """What a one-shot's copy may be longer than its sample: a filter's ringing, the widener, the reverb's tail."""
        self._longest = max((s.frames for s in pack.samples.values()), default=0) + self._rings
        """Longest one-shot, rings included (and the longest a synth note sounds)."""
        self._acc = np.zeros((0, 2), np.float32)
        self._feed = np.zeros_like(self._acc)
        """The delay's line: the layers' sends and the echoes fed back, at the line's level (``PingPong``)."""
        self._scratch = np.zeros_like(self._acc)
        """Room for a bar or a one-shot's copy, leveled before it is added (nothing in it outlives the add)."""
        self.delay = effects.PingPong()
        self._head = 0
        self._end = 0
        """acc[head:end] (the echoes included) and feed[head:end] hold audio due from the next bar on; everything
        else is zero."""
        self._sending: int | None = None
        """End (exclusive) of the last audio sent to the delay, in accumulator frames; None: the delay rests."""
        self._grids: dict[tuple[float, int, int, int], _Grid] = {}
        """By tempo and fractional start (numerator, denominator)."""
        self._stretch: dict[tuple[str, tuple[float, int]], int] = {}
        """Frames of each loop stretched to a tempo."""
        self._sweeps: dict[tuple[Filter, int, int], tuple[int | None, ...]] = {}
        """A filter's cutoff step at each segment of a bar (``_steps``)."""
        self._buses: _Budgeted[tuple[np.ndarray, np.ndarray | None]] = _Budgeted(_BUS_BYTES, _buses_size)
        """The steady layers' summed bars (``_add_steady``), by layers and onsets."""
        self._tiled: dict[tuple[float, float], np.ndarray] = {}
        """Each pair of levels tiled for ``_leveled``, by pair."""
        disk = copy_cache.from_environment()
        _fit_budgets(disk is not None)
        self._copies = _Scoped((pack.content_hash, sample_rate), pack, disk)
        """Stretched, widened, reverberated, filtered copies of samples, and spectra."""

    @property
    def limiter(self) -> Limiter:
        return self.mastering.limiter

    @property
    def limiter_engaged_frames(self) -> int:
        """Frames, over the whole set so far, where the limiter reduced gain."""
        return self.mastering.engaged_frames

    @property
    def copies_made(self) -> int:
        """Cached copies made so far (stretched, spread, filtered, spectra): each is a one-off cost of a bar."""
        return self._copies.made

    @property
    def copies_loaded(self) -> int:
        """Copies read back from disk (``copy_cache``), made by an earlier set."""
        return self._copies.loaded

    def prepare(self, bpm: float, beats_per_bar: int = 4) -> None:
        """Stretch every loop to ``bpm`` now (50-100 ms per loop bar), so that no bar of the set pays for it."""
        grid = self._grid((bpm, beats_per_bar), Fraction(0))
        for sample in self.pack.samples.values():
            if sample.is_loop:
                self._loop_source(sample, grid)

    @property
    def frame_position(self) -> Fraction:
        """Exact frame position where the next bar starts."""
        return self._frames + self._frac

    def render(self, plan: BarPlan, into: np.ndarray | None = None, master: bool = True) -> np.ndarray:
        """The next bar of the set: float32 (frames, 2), peak <= 1; in the first frames of ``into`` when given (the
        render worker's shared memory), which must be long enough. ``master=False`` leaves it as mixed, for a
        ``Mastering`` of the caller's (``last_stats`` is None then)."""
        grid = self._grid((plan.bpm, plan.beats_per_bar), self._frac)
        n = grid.n
        self._frames, self._frac = self._frames + n, grid.after
        skipped_layers = 0
        reach = 0  # the longest a one-shot of this bar may sound past its onset (its sample, rings included)
        steady: list[tuple[Layer, Sample]] = []
        moving: list[tuple[Layer, Sample | None]] = []
        for layer in plan.layers:
            sample = self.pack.samples.get(layer.sample)
            if layer.kind == "notes":
                moving.append((layer, None))
                reach = self._longest
                continue
            if sample is None:
                skipped_layers += 1
                continue
            if layer.gain == 0.0 and not layer.gain_end:
                continue
            looped = layer.kind == "loop" and sample.is_loop
            if not looped:
                reach = max(reach, sample.frames + self._rings)
            if looped or layer.filter is not None or layer.gain_end is not None:
                moving.append((layer, sample))
            else:
                steady.append((layer, sample))
        self._make_room(n, reach)
        head = self._head
        skipped_hits = self._add_steady(steady, grid)
        for layer, sample in moving:
            if sample is None:
                skipped_hits += self._add_notes(layer, grid)
            elif layer.kind == "loop" and sample.is_loop:
                self._add_loop(layer, sample, plan.bar, grid)
            else:
                skipped_hits += self._add_hits(layer, sample, grid)
        if self._sending is not None:
            delay = grid.dotted_eighth
            written = self.delay.process(self._feed, self._acc, self._scratch, head, n, delay)
            _silence(self._feed[head : head + n])
            self._end = max(self._end, written)
            if self._sending + ECHO_REPEATS * delay <= head + n:
                _silence(self._feed[head + n : written])
                self.delay.rest()
                self._sending = None
        if into is not None and into.shape[0] < n:
            raise ValueError(f"bar {plan.bar} has {n} frames, more than the {into.shape[0]} it is to be rendered into")
        out = self._acc[head : head + n].copy() if into is None else into[:n]
        if into is not None:
            out[...] = self._acc[head : head + n]
        _silence(self._acc[head : head + n])
        self._head = head + n
        self._end = max(self._end, self._head)
        self.last_skipped = (skipped_layers, skipped_hits)
        self.last_stats = self.mastering.finish(out, plan.bar, skipped_layers, skipped_hits) if master else None
        return out

    def _tempo(self, bpm: float, beats_per_bar: int) -> tuple[Fraction, Fraction]:
        """(exact bpm, exact bar length in frames), for a new grid."""
        if not (math.isfinite(bpm) and bpm > 0) or beats_per_bar < 1:
            raise ValueError(f"need bpm > 0 and beats_per_bar >= 1, got {bpm!r}, {beats_per_bar!r}")
        exact = Fraction(str(bpm))
        return exact, Fraction(beats_per_bar * 60 * self.sample_rate) / exact

    def _grid(self, tempo: tuple[float, int], frac: Fraction) -> _Grid:
        """The grid of bars at this tempo starting ``frac`` of a frame in (memoized)."""
        key = (*tempo, frac.numerator, frac.denominator)
        grid = self._grids.get(key)
        if grid is None:
            if len(self._grids) > 64:  # a tempo glide: each bar its own
                self._grids.clear()
            grid = self._grids[key] = _Grid(tempo, *self._tempo(*tempo), frac, self.sample_rate)
        return grid

    def _make_room(self, n: int, reach: int) -> None:
        """Ensure acc can take a bar of n frames plus a one-shot of ``reach`` frames starting anywhere in it, and
        what earlier bars left ringing. Sized by the bar rather than by the pack's longest sample (a loop, which
        only ever adds its bar): the accumulator, its delay line and the scratch buffer are a third of the size."""
        if self._scratch.shape[0] < max(n, reach):
            self._scratch = np.zeros((max(n, reach), 2), np.float32)
        need = n + n // 4 + reach  # a quarter bar more: the delay writes its echoes a dotted eighth on
        need = max(need, self._end - self._head)
        if self._head + need <= self._acc.shape[0]:
            return
        head, end = self._head, self._end
        live = end - head
        buffers = []
        for buffer in (self._acc, self._feed):
            if need > buffer.shape[0] // 2:
                grown = np.zeros((2 * need, 2), np.float32)
                grown[:live] = buffer[head:end]
                buffer = grown
            else:  # moved to the front in place (numpy copies overlapping ranges as memmove does), the rest zeroed
                buffer[:live] = buffer[head:end]
                _silence(buffer[live:end])
            buffers.append(buffer)
        self._acc, self._feed = buffers
        if self._sending is not None:
            self._sending -= head
        self._head, self._end = 0, end - head

    def _add_steady(self, steady: list[tuple[Layer, Sample]], grid: _Grid) -> int:
        """Add the bar's steady one-shot layers (no ramp, no filter) as one bus, and their sends as another; returns
        how many hits fall outside the bar. The buses are cached by the layers and the frames their hits start at,
        so a bar like the last but one (the same layers, the same onsets) costs one add, reverb tails included. A bus
        is always summed first and then added, cached or not: the output does not depend on what is cached."""
        if not steady:
            return 0
        starts = tuple(grid.starts(layer.hits if layer.kind == "hit" else (0,)) for layer, _ in steady)
        key = (tuple(layer for layer, _ in steady), starts)
        buses = self._buses.get(key)
        if buses is None:
            buses = self._buses.put(key, self._sum_steady(steady, starts))
        head = self._head
        for buffer, bus in zip((self._acc, self._feed), buses, strict=True):
            if bus is not None:
                buffer[head : head + bus.shape[0]] += bus
        self._end = max(self._end, head + buses[0].shape[0])
        if buses[1] is not None:
            self._sending = max(self._sending or 0, head + buses[1].shape[0])
        return sum(offsets.count(-1) for offsets in starts)

    def _sum_steady(
        self, steady: list[tuple[Layer, Sample]], starts: tuple[tuple[int, ...], ...]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The steady layers' bus and send bus (None when nothing sends), each as long as its last hit rings; hits
        start at ``starts`` (-1: outside the bar)."""
        placed = [
            (layer, self._placed(layer, sample, None, sample.data), [o for o in offsets if o >= 0])
            for (layer, sample), offsets in zip(steady, starts, strict=True)
        ]
        bus = np.zeros((max((o + src.shape[0] for _, src, at in placed for o in at), default=0), 2), np.float32)
        reach = max((o + src.shape[0] for layer, src, at in placed if layer.send > 0.0 for o in at), default=None)
        send = None if reach is None else np.zeros((reach, 2), np.float32)
        for layer, src, at in placed:  # leveled in the scratch buffer, added at each onset, then sent from there
            leveled = _leveled(src, self._levels(layer), self._scratch[: src.shape[0]])
            for offset in at:
                bus[offset : offset + src.shape[0]] += leveled
            if send is not None and layer.send > 0.0:
                leveled *= np.float32(self._sent(layer))
                for offset in at:
                    send[offset : offset + src.shape[0]] += leveled
        return bus, send

    def _add_hits(self, layer: Layer, sample: Sample, grid: _Grid) -> int:
        """Add an automated one-shot layer's hits, each at its onset, level and cutoff step (and to the delay's
        send); returns how many fall outside the bar."""
        src = self._placed(layer, sample, None, sample.data) if layer.filter is None else None
        levels, reference = self._levels(layer), max(layer.gain, layer.gain_end or 0.0)
        acc, head, skipped, reach = self._acc, self._head, 0, None
        hits = layer.hits if layer.kind == "hit" else (0,)
        for tick, offset in zip(hits, grid.starts(hits), strict=True):
            if offset < 0:
                skipped += 1
                continue
            at = head + offset
            position = tick / grid.ticks
            hit = (
                src if src is not None else self._placed(layer, sample, self._step(layer.filter, position), sample.data)
            )
            scale = 1.0 if layer.gain_end is None else _ramp_at(layer, position) / reference
            stop = at + hit.shape[0]
            played = _leveled(hit, levels, self._scratch[: hit.shape[0]])
            if scale != 1.0:
                played *= np.float32(scale)
            acc[at:stop] += played
            if layer.send > 0.0:
                played *= np.float32(self._sent(layer))
                self._feed[at:stop] += played
            reach = stop if reach is None else max(reach, stop)
        if reach is not None:
            self._end = max(self._end, reach)
            if layer.send > 0.0:
                self._sending = max(self._sending or 0, reach)
        return skipped

    def _add_loop(self, layer: Layer, sample: Sample, bar: int, grid: _Grid) -> None:
        """The loop's bar; automated, in segments: an eighth for a fade (each at the level of its middle, scaled
        from the copy at unity), a beat for a filter (a filter that holds from the copy of the whole loop at its
        cutoff step; a sweep, even one slow enough to hold a step through this bar, from each run of beats at one
        step filtered on its own), at the fader's level. A faded or sending loop is laid out in the scratch buffer
        first, so the mix and the send each take one add."""
        ramp = layer.gain_end is not None
        every = TICKS_PER_BEAT // 2 if ramp else TICKS_PER_BEAT if layer.filter is not None else grid.ticks
        stretched = self._loop_source(sample, grid)
        bounds = grid.bounds(every)
        steps = self._steps(layer.filter, every, grid.ticks)
        sweeping = layer.filter is not None and layer.filter.hz != layer.filter.hz_end
        runs: list[tuple[int, int | None, np.float32 | None]] = []  # (first frame, cutoff step, level) of each run
        # of segments that share a step and a level
        for k, step in enumerate(steps):
            scale = np.float32(_ramp_at(layer, (k + 0.5) * every / grid.ticks)) if ramp else None
            if not runs or runs[-1][1] != step or runs[-1][2] != scale:
                runs.append((bounds[k], step, scale))
        length, bars = stretched.shape[0], sample.bars or 1
        start = (((bar - layer.loop_start_bar) % bars) * length) // bars
        laid = ramp or layer.send > 0.0
        out, at = (self._scratch, 0) if laid else (self._acc, self._head)
        levels = self._levels(layer, unity=ramp)
        for (lo, step, scale), hi in zip(runs, [run[0] for run in runs[1:]] + [grid.n], strict=True):
            offset = (start + lo) % length
            if sweeping and step is not None:
                src, offset = self._swept(layer, sample, step, stretched, offset, hi - lo), 0
            else:
                src = self._placed(layer, sample, step, stretched)
            while lo < hi:
                take = min(hi - lo, src.shape[0] - offset)
                chunk, into = src[offset : offset + take], out[at + lo : at + lo + take]
                if laid:
                    _leveled(chunk, levels, into)
                    if scale is not None:
                        into *= scale
                else:
                    into += _leveled(chunk, levels, self._scratch[:take])
                lo += take
                offset = 0
        if laid:
            head, n = self._head, grid.n
            bar_audio = self._scratch[:n]
            self._acc[head : head + n] += bar_audio
            if layer.send > 0.0:
                bar_audio *= np.float32(self._sent(layer))
                self._feed[head : head + n] += bar_audio
                self._sending = max(self._sending or 0, head + n)

    def _sent(self, layer: Layer) -> float:
        """The layer's send as the delay's line takes it."""
        return layer.send * self.delay.input_gain

    def _steps(self, f: Filter | None, every: int, ticks: int) -> tuple[int | None, ...]:
        """The filter's cutoff step in each segment of ``every`` ticks of a bar (memoized: a filter that holds, as
        the bed's does, is worked out once)."""
        if f is None:
            return (None,) * -(-ticks // every)
        key = (f, every, ticks)
        steps = self._sweeps.get(key)
        if steps is None:
            if len(self._sweeps) > 4096:
                self._sweeps.clear()
            steps = self._sweeps[key] = tuple(self._step(f, tick / ticks) for tick in range(0, ticks, every))
        return steps

    def _step(self, f: Filter | None, position: float) -> int | None:
        """The filter's cutoff step at ``position`` (0..1) through the bar; None when it filters nothing."""
        if f is None:
            return None
        step = effects.step_of(effects.glide(f.hz, f.hz_end, position))
        return None if effects.bypassed(f.kind, step) else step

    def _placed(self, layer: Layer, sample: Sample, step: int | None, data: np.ndarray) -> np.ndarray:
        """The sample as this layer places it, at unity: stretched (loops), widened and reverberated, filtered; all
        cached. The layer's levels (``_levels``) multiply it as it is added: a copy per level kept every level the
        faders passed through (a 4-bar loop's 2.6 MB each), for the same samples one multiply later."""
        loop = layer.kind == "loop" and sample.is_loop
        f = layer.filter if step is not None else None
        made = self._spread(sample, data, layer.width, layer.reverb, loop)
        if f is None:
            return made
        key = (sample.id, data.shape[0], f.kind, f.q, step, layer.width, layer.reverb)
        cached = self._copies.get(key)
        if cached is None:
            filtered = self._filtered(sample, made, f.kind, step, f.q, loop, (layer.width, layer.reverb))
            cached = self._copies.put(key, filtered)
        return cached

    def _levels(self, layer: Layer, unity: bool = False) -> np.ndarray:
        """The (left, right) gains the layer's placed sample is multiplied by (``_leveled``): pan, trim, master and
        its fader (at unity for a loop whose gain ramps: it is scaled segment by segment)."""
        pair = self._stereo(layer, 1.0 if unity else max(layer.gain, layer.gain_end or 0.0))
        levels = self._tiled.get(pair)
        if levels is None:
            if len(self._tiled) > 256:  # a fade passes through a level a bar
                self._tiled.clear()
            levels = self._tiled[pair] = np.tile(np.array(pair, np.float32), _LEVEL_FRAMES)
        return levels

    def _swept(self, layer: Layer, sample: Sample, step: int, data: np.ndarray, start: int, frames: int) -> np.ndarray:
        """``frames`` frames of the loop ``data`` from ``start`` on as ``_placed`` would give them at cutoff
        ``step``, filtered on their own (``effects.filtered_span``): a sweep plays each step for a beat or so, and
        filtering the whole loop at every step cost tens of milliseconds and a copy of the loop each. Cached like the
        copies (a beat is 165 kB): a sweep that comes back bar after bar (a wobble) costs nothing after its first."""
        f = layer.filter
        assert f is not None
        key = ("span", sample.id, data.shape[0], f.kind, f.q, step, layer.width, layer.reverb, start, frames)
        cached = self._copies.get(key)
        if cached is None:
            spread = self._spread(sample, data, layer.width, layer.reverb, True)
            made = effects.filtered_span(spread, start, frames, f.kind, step, f.q, self.sample_rate)
            cached = self._copies.put(key, made)
        return cached

    def _spread(self, sample: Sample, data: np.ndarray, width: float, reverb: float, loop: bool) -> np.ndarray:
        """``data`` (the sample, or its stretched loop) widened and reverberated (``effects.spread``), cached per
        placement. It comes before any filter (all three are linear), so a sweep filters one cached copy."""
        if width <= 0.0 and reverb <= 0.0:
            return data
        key = ("spread", sample.id, data.shape[0], width, reverb, loop)
        made = self._copies.get(key)
        if made is None:
            made = self._copies.put(key, effects.spread(data, width, reverb, self.sample_rate, loop))
        return made

    def _filtered(
        self, sample: Sample, data: np.ndarray, kind: str, step: int, q: float, loop: bool, placement: tuple = ()
    ) -> np.ndarray:
        """``data`` (the sample, or its stretched loop, as ``placement`` spread it) through the filter at ``step``;
        one-shots grow by effects.TAIL_FRAMES. Its spectrum and unit circle are cached: a sweep pays one inverse
        transform a step."""
        key = ("spectrum", sample.id, data.shape[0], loop, placement)
        spectrum = self._copies.get(key)
        if spectrum is None:
            spectrum = self._copies.put(key, effects.spectrum(data, loop))
        frames = effects.transform_frames(data.shape[0], loop)
        z = self._copies.get(("unit circle", frames))
        if z is None:
            z = self._copies.put(("unit circle", frames), effects.unit_circle(frames, self.sample_rate))
        out = effects.filtered(spectrum, frames, kind, step, q, self.sample_rate, z)
        return out if loop else out[: data.shape[0] + effects.TAIL_FRAMES]

    def _add_notes(self, layer: Layer, grid: _Grid) -> int:
        """Play a note layer with the synth voice; returns how many notes started outside the bar."""
        left, right = self._stereo(layer, layer.gain)
        skipped = 0
        for note in layer.notes if layer.gain else ():
            if not 0 <= note.start < grid.ticks:
                skipped += 1
                continue
            at, end = grid.at(note.start), grid.at(note.start + max(1, note.duration))
            voice = tone(note.pitch, end - at, note.velocity, self.sample_rate)[: self._longest]
            at += self._head
            self._acc[at : at + voice.shape[0], 0] += voice * np.float32(left)
            self._acc[at : at + voice.shape[0], 1] += voice * np.float32(right)
            self._end = max(self._end, at + voice.shape[0])
        return skipped

    def _loop_source(self, sample: Sample, grid: _Grid) -> np.ndarray:
        """The loop's audio at the grid's tempo: the file itself, or a cached resampled stretch of it."""
        frames = sample.frames
        target = self._stretch.get((sample.id, grid.tempo))
        if target is None:
            if sample.bpm is not None:
                target = math.floor(frames * Fraction(str(sample.bpm)) / grid.bpm + Fraction(1, 2))
            else:
                target = math.floor((sample.bars or 1) * grid.bar_len + Fraction(1, 2))
            self._stretch[(sample.id, grid.tempo)] = target
        if target == frames:
            return sample.data
        key = ("stretch", sample.id, target)
        cached = self._copies.get(key)
        if cached is None:
            cached = self._copies.put(key, resample(sample.data, target, circular=True))
        return cached

    def _stereo(self, layer: Layer, gain: float) -> tuple[float, float]:
        """(left, right) gains with a constant-power pan normalized to unity at centre, the role's trim and the
        master included."""
        gain *= self.trims.get(layer.role, 1.0)
        if layer.pan == 0.0:
            return gain * self.master, gain * self.master
        theta = (min(1.0, max(-1.0, layer.pan)) + 1.0) * (math.pi / 4.0)
        return (
            gain * math.sqrt(2.0) * math.cos(theta) * self.master,
            gain * math.sqrt(2.0) * math.sin(theta) * self.master,
        )


_LEVEL_FRAMES = 4096
"""Frames per row of ``_leveled``'s tiled gains."""


def _leveled(src: np.ndarray, levels: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``src`` (frames, 2) times its (left, right) gains into ``out``, element for element what ``src * [left,
    right]`` gives, through rows of the gains tiled (``levels``, from ``Renderer._levels``): numpy broadcasts over
    an axis of two ten times slower than it multiplies two rows."""
    flat, into = src.reshape(-1), out.reshape(-1)
    whole = flat.size - flat.size % levels.size
    np.multiply(flat[:whole].reshape(-1, levels.size), levels, out=into[:whole].reshape(-1, levels.size))
    np.multiply(flat[whole:], levels[: flat.size - whole], out=into[whole:])
    return out


def _silence(frames: np.ndarray) -> None:
    """Zero a contiguous run of float32 frames as bytes (a memset): numpy's float fill takes about twice as long."""
    frames.view(np.uint8).fill(0)


def _ramp_at(layer: Layer, position: float) -> float:
    end = layer.gain if layer.gain_end is None else layer.gain_end
    return layer.gain + (end - layer.gain) * position
