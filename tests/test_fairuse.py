"""Fair use: runs at once, per user, km² a day, and the queue's places."""
from __future__ import annotations

import threading
import time

import pytest

from detector.errors import DetectorError
from detector.fairuse import Limits, RunGate


def test_runs_wait_in_line_and_are_told_their_place():
    gate = RunGate(Limits(max_runs=1, runs_per_user=1))
    order, places = [], {"b": [], "c": []}
    first_in = threading.Event()
    release = threading.Event()

    def run(user):
        with gate.slot(user, 1.0, on_wait=lambda place: places[user].append(place), poll_s=0.02):
            order.append(user)
            if user == "a":
                first_in.set()
                release.wait(5)

    a = threading.Thread(target=run, args=("a",))
    a.start()
    first_in.wait(5)
    b = threading.Thread(target=run, args=("b",))
    b.start()
    time.sleep(0.1)
    c = threading.Thread(target=run, args=("c",))
    c.start()
    time.sleep(0.2)
    assert 1 in places["b"] and 2 in places["c"], places  # "your run is 2nd in line"
    release.set()
    for t in (a, b, c):
        t.join(5)
    assert order == ["a", "b", "c"], "first come, first served"


def test_a_user_at_their_limit_lets_others_pass():
    gate = RunGate(Limits(max_runs=2, runs_per_user=1))
    hold = threading.Event()
    inside = []

    def run(user):
        with gate.slot(user, 1.0, poll_s=0.02):
            inside.append(user)
            hold.wait(5)

    threads = [threading.Thread(target=run, args=(u,)) for u in ("ana", "ana", "ben")]
    for t in threads:
        t.start()
        time.sleep(0.1)
    time.sleep(0.2)
    assert sorted(inside) == ["ana", "ben"], "ana's second run waits; ben's goes past it"
    hold.set()
    for t in threads:
        t.join(5)
    assert inside == ["ana", "ben", "ana"]


def test_the_daily_quota_refuses_with_what_is_left_and_resets_the_next_day():
    day = {"d": __import__("datetime").date(2026, 12, 1)}
    gate = RunGate(Limits(km2_per_day=100), today=lambda: day["d"])
    with gate.slot("ana", 70):
        pass
    with pytest.raises(DetectorError, match="30 km² left of your 100 km² a day"):
        with gate.slot("ana", 40):
            pass
    with gate.slot("ben", 90):
        pass
    day["d"] = day["d"].replace(day=2)
    with gate.slot("ana", 90):
        pass
    assert gate.used_today("ana") == 90
