"""Energy per interval from a cumulative counter read by many processes, glitches named.

One counter domain (a RAPL package, a GPU's energy counter) is read by every
process that ran a node on the host; merged in time order its readings give
the host's energy. Between two readings the counter may have:

- **wrapped** (it starts again at zero after its range): each reading is placed
  on the wrap that brings it nearest to where the counter should be by its mean
  power so far;
- been read **stale** (a reading a little older than the one before it, from
  another process, or a stray low one): it adds nothing, and the readings after
  it show the counter back where it was;
- **jumped** (risen faster than the domain can draw, :data:`PLAUSIBLE_FACTOR`
  times its rated bound) and stayed there, or **reset** (fallen where no wrap
  explains it) and gone on from its new value: the interval is modelled, the
  counter followed from its new value; a single stray high reading is left out;
- **frozen** (not moved for :data:`FROZEN_S` while time passed: no real package
  or GPU draws zero power): the frozen span, up to the reading where it moves
  again, is modelled (what the counter shows when it moves again is not spread
  over the span: it may have stopped, not only lagged).

Readings far apart (no process read the counter for a while: its reads hung, or
no node ran) keep the counter's difference as measured, spread over the
intervals between them by the model's shape (idle power plus power per busy
CPU-second), so the nodes that ran meanwhile share it by what they did, not by
when the next reading happened to come.

Every modelled span is a :class:`Glitch` (kind, from, to, energy modelled). The
times of the readings are needed to judge power; without them only wraps and
stale readings are handled.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from nipype_carbon.measure.guard import FROZEN_AFTER_S, IMPLAUSIBLE_FACTOR
from nipype_carbon.measure.measurement import DEFAULT_POWER_BOUND_W, Domain

#: a counter that does not move for this long, while time passes, is frozen
FROZEN_S = FROZEN_AFTER_S
#: a rise faster than this many times the domain's power bound is a jump
PLAUSIBLE_FACTOR = IMPLAUSIBLE_FACTOR
#: readings looked at after a suspect one: at least this many, and all within LOOKAHEAD_S
LOOKAHEAD_READINGS = 3
LOOKAHEAD_S = 1.0
#: ... but never more than this many
LOOKAHEAD_MAX = 64


@dataclass
class Glitch:
    """A span of a counter's timeline whose readings could not be used, and what was done.

    ``kind`` is ``jump``, ``reset``, ``frozen`` or ``unread`` (no process read the
    domain there: before its first reading or after its last); ``start`` and ``end``
    are epoch seconds; ``modelled_j`` the energy modelled in its place.
    """

    domain: str
    kind: str
    start: float
    end: float
    modelled_j: float = 0.0
    #: indices [a, b) of the timeline's intervals it covers
    intervals: tuple[int, int] = field(default=(0, 0), repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "modelled_j": self.modelled_j,
        }


@dataclass
class CounterEnergy:
    """A counter's energy per interval of the timeline, the intervals modelled, the wraps."""

    energy_j: np.ndarray
    modelled: np.ndarray  # bool per interval
    glitches: list[Glitch]
    wraps: int = 0


class _Walk:
    """The readings of one counter, walked in time order (see the module)."""

    def __init__(self, t: np.ndarray, values: np.ndarray, domain: Domain, timed: bool) -> None:
        self.t, self.v, self.domain, self.timed = t, values, domain, timed
        self.wrap = domain.wrap_j or 0.0
        self.bound_w = PLAUSIBLE_FACTOR * (domain.power_bound_w or DEFAULT_POWER_BOUND_W)
        #: per reading: the counter's level there (NaN: the reading is left out)
        self.level = np.full(len(values), np.nan)
        self.spans: list[tuple[int, int, str]] = []  # (from reading, to reading, kind)
        self.wraps = 0
        self._turns = 0  # wraps the base is placed on

    def place(self, value: float, base: float, power: float, dt: float) -> float:
        """``value`` on the wrap nearest where the counter should be."""
        if not self.wrap:
            return value
        expected = base + power * max(dt, 0.0)
        return value + round((expected - value) / self.wrap) * self.wrap

    def plausible(self, rise: float, dt: float) -> bool:
        return not self.timed or rise <= self.bound_w * max(dt, 1e-3) + 1.0

    def run(self) -> None:
        t, v = self.t, self.v
        level, base, base_t = 0.0, float(v[0]), float(t[0])
        measured_s, measured_j = 0.0, 0.0
        self.level[0] = 0.0
        k = 1
        while k < len(v):
            power = measured_j / measured_s if measured_s > 0 else 0.0
            dt = float(t[k]) - base_t
            placed = self.place(float(v[k]), base, power, dt)
            rise = placed - base
            if rise >= 0 and self.plausible(rise, dt):
                level += rise
                measured_j += rise
                measured_s += max(dt, 0.0)
                self._turned(placed, float(v[k]))
                base, base_t = placed, float(t[k])
                self.level[k] = level
            elif self._comes_back(k, base, power, base_t, rise):
                pass  # stale, or a stray reading: left out
            else:  # the counter went on from a new value: a jump (up) or a reset (down)
                self.spans.append((self._last_read(k), k, "jump" if rise > 0 else "reset"))
                base, base_t, self._turns = float(v[k]), float(t[k]), 0
                self.level[k] = level
            k += 1

    def _turned(self, placed: float, value: float) -> None:
        """Count the wraps between the last base and a reading placed at ``placed``."""
        if self.wrap:
            turns = round((placed - value) / self.wrap)
            self.wraps += max(0, turns - self._turns)
            self._turns = turns

    def _comes_back(self, k: int, base: float, power: float, base_t: float, rise: float) -> bool:
        """Whether a reading after ``k`` shows the counter back on its course (so ``k`` was
        stale or stray); the end of the readings counts as back for a fall (nothing after
        it to judge by, and nothing is lost by leaving one reading out)."""
        j = k + 1
        if j >= len(self.v):
            return rise < 0 or not self.timed
        while j < len(self.v) and j - k <= LOOKAHEAD_MAX:
            dt = float(self.t[j]) - base_t
            rise = self.place(float(self.v[j]), base, power, dt) - base
            if rise >= 0 and self.plausible(rise, dt):
                return True
            if j - k >= LOOKAHEAD_READINGS and self.t[j] - self.t[k] >= LOOKAHEAD_S:
                break
            j += 1
        return not self.timed

    def _last_read(self, k: int) -> int:
        """The last reading before ``k`` that was kept."""
        kept = np.flatnonzero(~np.isnan(self.level[:k]))
        return int(kept[-1]) if len(kept) else 0


def _frozen(t: np.ndarray, v: np.ndarray) -> list[tuple[int, int, str]]:
    """Runs of one value lasting at least :data:`FROZEN_S`: (first reading, the reading
    that moves again or the last, ``frozen``)."""
    spans = []
    start = 0
    for k in range(1, len(v) + 1):
        if k < len(v) and v[k] == v[start]:
            continue
        if t[k - 1] - t[start] >= FROZEN_S:
            spans.append((start, min(k, len(v) - 1), "frozen"))
        start = k
    return spans


def counter_energy(
    t: np.ndarray,
    raw: np.ndarray,
    domain: Domain,
    shape: np.ndarray | None = None,
    model: np.ndarray | None = None,
    timed: bool = True,
) -> CounterEnergy:
    """A counter's energy per interval of the timeline ``t`` from its readings ``raw``
    (NaN where a sample holds no reading of it).

    ``shape`` (one weight per interval, default the intervals' lengths) spreads the energy
    between two readings over the intervals between them; ``model`` (the model's energy per
    interval) stands in for the glitches and for the intervals before the first reading and
    after the last (zero where no model is given).
    """
    n = max(len(t) - 1, 0)
    dt = np.diff(t) if n else np.zeros(0)
    weights = np.asarray(shape, float) if shape is not None else dt
    stand_in = np.asarray(model, float) if model is not None else np.zeros(n)
    energy, modelled = np.zeros(n), np.zeros(n, dtype=bool)
    read = np.flatnonzero(~np.isnan(raw))
    glitches: list[Glitch] = []
    if not len(read):
        modelled[:] = True
        energy[:] = stand_in
        if n:
            glitches.append(Glitch(domain.name, "unread", float(t[0]), float(t[-1]), 0.0, (0, n)))
        return _close(energy, modelled, glitches, stand_in, 0)
    walk = _Walk(t[read], raw[read], domain, timed)
    walk.run()
    spans = walk.spans + (_frozen(t[read], raw[read]) if timed else [])
    kept = np.flatnonzero(~np.isnan(walk.level))
    for ka, kb in itertools.pairwise(kept.tolist()):
        i, j = int(read[ka]), int(read[kb])
        _spread(energy, i, j, float(walk.level[kb] - walk.level[ka]), weights, dt)
    for a, b, kind in spans:
        i, j = int(read[a]), int(read[b])
        if j > i:
            glitches.append(Glitch(domain.name, kind, float(t[i]), float(t[j]), 0.0, (i, j)))
    first, last = int(read[0]), int(read[-1])
    if first > 0:
        glitches.append(
            Glitch(domain.name, "unread", float(t[0]), float(t[first]), 0.0, (0, first))
        )
    if last < n:
        glitches.append(Glitch(domain.name, "unread", float(t[last]), float(t[-1]), 0.0, (last, n)))
    for glitch in glitches:
        modelled[glitch.intervals[0] : glitch.intervals[1]] = True
    energy[modelled] = stand_in[modelled]
    return _close(energy, modelled, glitches, stand_in, walk.wraps)


def _spread(
    energy: np.ndarray, i: int, j: int, amount: float, weights: np.ndarray, dt: np.ndarray
) -> None:
    """``amount`` over intervals [i, j) by ``weights`` (by length where they are all zero)."""
    if j <= i:
        return
    w = weights[i:j]
    total = float(w.sum())
    if total <= 0:
        w, total = dt[i:j], float(dt[i:j].sum())
    if total <= 0:
        energy[j - 1] += amount
        return
    energy[i:j] += amount * w / total


def _close(
    energy: np.ndarray,
    modelled: np.ndarray,
    glitches: list[Glitch],
    stand_in: np.ndarray,
    wraps: int,
) -> CounterEnergy:
    """Glitches in time order, each with the energy modelled over its intervals (an
    interval in two glitches is counted in the first)."""
    glitches.sort(key=lambda g: (g.start, g.end))
    counted = np.zeros(len(energy), dtype=bool)
    for glitch in glitches:
        a, b = glitch.intervals
        fresh = ~counted[a:b]
        glitch.modelled_j = float(stand_in[a:b][fresh].sum())
        counted[a:b] = True
    return CounterEnergy(energy, modelled, glitches, wraps)
