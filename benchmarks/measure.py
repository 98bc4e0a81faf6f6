"""Timing, query counting and percentiles shared by the benchmark and the contention run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection


class QueryCounter:
    """Counts the SQL statements this thread's connection runs, through execute_wrapper.

    Lighter than CaptureQueriesContext (no SQL text kept, no debug cursor), so
    counting does not skew the timings it sits beside.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    @contextmanager
    def installed(self):
        with connection.execute_wrapper(self):
            yield self


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (pct in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Sample:
    """The timings (milliseconds) and query counts of one operation in one cache mode."""

    name: str
    mode: str
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, elapsed_ms: float, queries: int) -> None:
        self.times_ms.append(elapsed_ms)
        self.queries.append(queries)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def summary(self) -> dict:
        ordered = sorted(self.times_ms)
        n = len(ordered)
        total_s = sum(ordered) / 1000
        return {
            "operation": self.name,
            "mode": self.mode,
            "iterations": n,
            "p50_ms": round(percentile(ordered, 50), 3) if n else None,
            "p95_ms": round(percentile(ordered, 95), 3) if n else None,
            "p99_ms": round(percentile(ordered, 99), 3) if n else None,
            "mean_ms": round(sum(ordered) / n, 3) if n else None,
            "max_ms": round(ordered[-1], 3) if n else None,
            "ops_per_s": round(n / total_s, 1) if total_s > 0 else None,
            "queries_per_op": round(sum(self.queries) / n, 2) if n else None,
            "queries_max": max(self.queries) if n else None,
            "outcomes": dict(self.outcomes),
        }


def timed(fn: Callable[[], object], counter: QueryCounter) -> tuple[object, float, int]:
    """Run ``fn`` once; return its result, the milliseconds it took and its query count."""
    before = counter.count
    start = time.perf_counter_ns()
    result = fn()
    elapsed = (time.perf_counter_ns() - start) / 1e6
    return result, elapsed, counter.count - before
