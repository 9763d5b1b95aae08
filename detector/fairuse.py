"""Fair use on a shared server: runs at once, runs per user at once, km² per user per day, and a queue.

One gate per server process (the pages share it through the workspace). A run asks for a slot with
its user and area; over the day's quota it is refused with what is left, otherwise it waits its
turn, first come first served, and is told its place in line while it waits. Limits are the
operator's (``DETECTOR_MAX_RUNS``, ``DETECTOR_RUNS_PER_USER``, ``DETECTOR_KM2_PER_DAY``); the day's
usage is kept in memory, so it starts again with the process.
"""
from __future__ import annotations

import datetime as _dt
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import DetectorError


@dataclass(frozen=True)
class Limits:
    max_runs: int = 2  # runs at once on this server
    runs_per_user: int = 1  # runs at once per user
    km2_per_day: float | None = None  # per user; None: no daily quota


class RunGate:
    """Slots for runs, handed out in arrival order within the limits."""

    def __init__(self, limits: Limits | None = None, today: Callable[[], _dt.date] = _dt.date.today):
        self.limits = limits or Limits()
        self._today = today
        self._cond = threading.Condition()
        self._line: deque[object] = deque()
        self._running: dict[str, int] = {}
        self._used: dict[tuple[str, _dt.date], float] = {}

    def used_today(self, user: str) -> float:
        return self._used.get((user, self._today()), 0.0)

    def _check_quota(self, user: str, km2: float) -> None:
        quota = self.limits.km2_per_day
        if quota is None:
            return
        left = quota - self.used_today(user)
        if km2 > left + 1e-9:
            raise DetectorError("This run covers {km2:,.0f} km², more than the {max:,.0f} km² left of your {quota:,.0f} km² "
                                "a day on this server. Choose a smaller region, or come back tomorrow.",
                                km2=km2, max=max(left, 0), quota=quota)

    def _free(self, user: str) -> bool:
        return (sum(self._running.values()) < self.limits.max_runs
                and self._running.get(user, 0) < self.limits.runs_per_user)

    def _may_go(self, ticket: object) -> bool:
        """A waiting run goes when the server and its user have room and no run ahead of it could go now."""
        if sum(self._running.values()) >= self.limits.max_runs:
            return False
        for t, user in self._line:
            user_free = self._running.get(user, 0) < self.limits.runs_per_user
            if t is ticket:
                return user_free
            if user_free:
                return False  # an earlier run can go first
        return False

    @contextmanager
    def slot(self, user: str, km2: float, on_wait: Callable[[int], None] | None = None,
             poll_s: float = 0.5) -> Iterator[None]:
        """Hold a run's slot for the ``with`` block; while waiting, ``on_wait(place)`` (1: next in line)."""
        ticket = object()
        with self._cond:
            self._check_quota(user, km2)
            self._line.append((ticket, user))
            try:
                while not self._may_go(ticket):
                    if on_wait:
                        on_wait(next(i for i, (t, _) in enumerate(self._line) if t is ticket) + 1)
                    self._cond.wait(poll_s)
                self._check_quota(user, km2)  # the user's other runs may have used it up meanwhile
            finally:
                self._line = deque(item for item in self._line if item[0] is not ticket)
                self._cond.notify_all()
            self._running[user] = self._running.get(user, 0) + 1
            key = (user, self._today())
            self._used[key] = self._used.get(key, 0.0) + km2
        try:
            yield
        finally:
            with self._cond:
                self._running[user] -= 1
                self._cond.notify_all()
