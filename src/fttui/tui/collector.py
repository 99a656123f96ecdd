"""``IdleCollector``: the garbage collector's older generations, run between keys.

CPython starts a pass of its older generations from whatever allocation crosses their
threshold: in this app, that is the middle of drawing a frame. A pass over the young
survivors (generation 1) took 15-35 ms after a pane's first showing, a full pass 80-400
ms before the app froze its long-lived objects (``FtApp.freeze_long_lived``); the key
being drawn waited for it (the slowest pane switches in bench/tui.py, issue 15).

So allocation starts only the youngest generation's passes (a few ms, and they keep the
short-lived garbage of each frame in check), and this collector runs generation 1, and
now and then 2, when no key or mouse event has come for ``IDLE_S``: the same passes,
moved to where nobody waits for them. A user who never stops typing still gets them,
at the latest every ``BUSY_YOUNG_PASSES`` young passes.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

#: The generational collector this paces (CPython up to 3.13). CPython 3.14's incremental
#: collector gives the thresholds and ``gc.collect(1)`` other meanings: the app leaves it
#: as it is there.
PACED_COLLECTOR = sys.implementation.name == "cpython" and sys.version_info < (3, 14)

#: The thresholds while the app runs: generation 0 as tuned in freeze_long_lived (a
#: frame's thousands of short-lived strips and segments are not collected many times a
#: frame), generations 1 and 2 never from an allocation (``IdleCollector.tick``).
THRESHOLDS = (10_000, 2**30, 2**30)
#: Seconds without input before the older generations are collected.
IDLE_S = 0.3
#: Young passes (generation 0) before a generation 1 pass: CPython's default is 10.
YOUNG_PASSES = 10
#: Generation 1 passes before a full one (the threshold the app used before this).
OLD_PASSES = 100
#: Young passes after which generation 1 is collected even while keys keep coming.
BUSY_YOUNG_PASSES = 100
#: How often the app calls ``tick`` (seconds).
TICK_S = 0.25


class IdleCollector:
    """Collects generations 1 and 2 when there has been no input for ``IDLE_S``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_input = clock()
        #: how many passes it has run, and the generation of the last
        self.runs = 0
        self.last_generation: int | None = None

    def input_seen(self) -> None:
        self.last_input = self._clock()

    def tick(self) -> int | None:
        """Run the pass that is due, if the user is away (or has been busy for long);
        returns the generation collected, or None."""
        _young, gen0_passes, gen1_passes = gc.get_count()
        if gen0_passes < YOUNG_PASSES:
            return None
        idle = self._clock() - self.last_input >= IDLE_S
        if not idle and gen0_passes < BUSY_YOUNG_PASSES:
            return None
        generation = 2 if gen1_passes >= OLD_PASSES else 1
        gc.collect(generation)
        self.runs += 1
        self.last_generation = generation
        return generation
