"""Growing pauses between retries: the lock poll, ``--wait``, the listener, ``tasks watch``.

One rule for every loop that waits for something to come back: start small,
grow by a factor, stop at a ceiling, optionally with jitter (so that many
clients of one restarted server do not return in lockstep), and never sleep
past a deadline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Yields the next pause with :meth:`next`; :meth:`reset` after a success."""

    first_s: float
    max_s: float
    factor: float = 2.0
    jitter: float = 0.0  # 0.2: each pause is drawn from [0.8, 1.2] x the nominal one
    _nominal: float | None = field(default=None, init=False, repr=False)

    def next(self, left_s: float | None = None) -> float:
        """The pause before the next attempt, at most ``left_s`` (time to a deadline)."""
        self._nominal = (
            self.first_s if self._nominal is None else min(self._nominal * self.factor, self.max_s)
        )
        pause = self._nominal
        if self.jitter:
            pause *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return max(0.0, pause if left_s is None else min(pause, left_s))

    def reset(self) -> None:
        self._nominal = None
