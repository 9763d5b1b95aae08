"""A bounded, ordered thread-pool map: the one way the pipeline and the cluster client overlap I/O."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def bounded_map(fn: Callable, items: Iterable, workers: int) -> Iterator[tuple[Any, Future]]:
    """Run fn over items on a thread pool, at most 2×workers in flight, results in order.

    Never more than a few items are submitted ahead of the consumer, so a basin's hundred
    thousand tiles never sit in the pool's queue at once.
    """
    workers = max(int(workers), 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[tuple[Any, Future]] = []
        it = iter(items)
        for item in it:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            item, fut = pending.pop(0)
            yield item, fut
            nxt = next(it, _END)
            if nxt is not _END:
                pending.append((nxt, pool.submit(fn, nxt)))


_END = object()
