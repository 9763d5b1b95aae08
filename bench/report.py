"""What the benchmarks share: best-of timing and the Markdown table they print (one definition of each)."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` calls, in seconds (the least disturbed by other load)."""
    out = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def print_ratio_table(header: str, unit: str, rows: Sequence[tuple[str, float]], scale: float = 1000.0,
                      digits: int = 1, base_label: str = "× baseline") -> None:
    """A Markdown table of (name, seconds) rows, in ``unit`` (ms by default), with ratios to the first row."""
    base = rows[0][1]
    print(f"| {header} | {unit} | {base_label} |")
    print("|---|---:|---:|")
    for name, sec in rows:
        print(f"| {name} | {sec * scale:.{digits}f} | {sec / base:.2f} |")
