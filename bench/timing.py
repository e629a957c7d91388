"""What the benchmarks share: timing an action in process."""

import statistics
import time


def median_seconds(action, runs: int) -> float:
    """Median wall seconds of `action()` over `runs` calls, after one untimed call."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
