"""Timing helpers shared by the benchmarks: interleaved repeats, medians, machine line."""

import os
import platform
import statistics
import time
from collections.abc import Callable

import jax


def interleaved_times(
    contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds of every run of each contender, run A, B, A, B, ... after `warmup` calls each."""
    for fn in contenders.values():
        for _ in range(warmup):
            jax.block_until_ready(fn())
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return times


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each contender, run A, B, A, B, ... after one warm-up call each."""
    times = interleaved_times(contenders, repeats)
    return {name: statistics.median(ts) for name, ts in times.items()}


def machine() -> str:
    device = jax.devices()[0]
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind})"
    )
