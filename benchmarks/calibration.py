"""How fast the machine is, measured before a run so that runs at other times compare.

Two fixed workloads, neither running the project's code (its settings and
the Django version still count):

- *CPU calibration*: a small pure-Python loop, the best wall time of 7
  runs. Its data fits in the core's own caches, and the best run is the
  machine at its fastest moment: on 2026-12-02 it read 3.48 ms before a
  load test whose pages cost 1.6 to 1.7 times what they had cost on a day
  it also read 3.48 ms.
- *Django calibration*: Django's template engine and forms, the code most
  of a request runs through, in this thread's CPU time like the load test's
  per-endpoint figures, the median of 25 runs.

On a shared machine whose speed drifts within seconds, neither predicts a
run's speed well; the Django calibration does better. ``python -m
benchmarks calibration`` takes both as a run records them, then the median
CPU time of pages, in rounds a few seconds apart. Over four runs of 16
rounds on 2026-12-02, the pages followed the Django calibration with a
correlation of 0.12 to 0.67 and the CPU calibration with -0.39 to 0.56, and
the pages' time divided by each varied by 16 to 30% and 24 to 36%; the
Django calibration was ahead on both counts in every run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

CPU_CALIBRATION_RUNS = 7
DJANGO_CALIBRATION_RUNS = 25


def _python_workload() -> None:
    counts: dict[str, int] = {}
    for i in range(20_000):
        key = f"k{i % 997}"
        counts[key] = counts.get(key, 0) + i
    sorted(counts.items(), key=lambda item: item[1])


def cpu_calibration_ms() -> float:
    """The best wall time of the pure-Python loop, in ms."""
    best = float("inf")
    for _ in range(CPU_CALIBRATION_RUNS):
        started = time.perf_counter()
        _python_workload()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


_TEMPLATE = (
    "<table>{% for row in rows %}"
    '<tr class="{% cycle "odd" "even" %}"><td>{{ row.name|title }}</td>'
    '<td>{{ row.day|date:"Y-m-d" }}</td>'
    "<td>{% if row.left > 3 %}available{% else %}{{ row.left }} left{% endif %}</td>"
    "<td>{{ row.price|floatformat:2 }}</td>"
    '<td>{{ row.note|default:"-"|truncatechars:20 }}</td></tr>'
    "{% endfor %}</table>"
)
_FORM_DATA = {
    "name": "Ann Guest",
    "email": "ann@example.com",
    "day": "2026-05-01",
    "rooms": "3",
    "price": "129.50",
    "kind": "7",
}


@cache
def _django_parts() -> tuple:
    from django import forms
    from django.template import Context, Engine

    class CalibrationForm(forms.Form):
        name = forms.CharField(max_length=100)
        email = forms.EmailField()
        day = forms.DateField()
        rooms = forms.IntegerField(min_value=0)
        price = forms.DecimalField(max_digits=8, decimal_places=2)
        kind = forms.ChoiceField(choices=[(str(i), str(i)) for i in range(20)])

    rows = [
        {
            "name": f"room <{i}>",
            "day": date(2026, 1, 1) + timedelta(days=i),
            "left": i % 7,
            "price": Decimal(i) * Decimal("1.25"),
            "note": "x" * (i % 30),
        }
        for i in range(150)
    ]
    template = Engine().from_string(_TEMPLATE)
    return template, Context({"rows": rows}), CalibrationForm


def _django_workload() -> None:
    template, context, form_class = _django_parts()
    template.render(context)
    for _ in range(40):
        form = form_class(_FORM_DATA)
        if not form.is_valid():
            raise AssertionError(form.errors)


def django_calibration_ms() -> float:
    """The median CPU time of Django's template engine and forms on a fixed workload, in ms."""
    _django_workload()
    runs = (_thread_ms(_django_workload) for _ in range(DJANGO_CALIBRATION_RUNS))
    return round(statistics.median(runs), 2)


def calibrate() -> dict[str, float]:
    """Both calibrations, as ``report.machine`` records them."""
    return {
        "cpu_calibration_ms": cpu_calibration_ms(),
        "django_calibration_ms": django_calibration_ms(),
    }


def _thread_ms(work: Callable[[], object]) -> float:
    started = time.thread_time()
    work()
    return (time.thread_time() - started) * 1000


def compare(
    *, rounds: int, samples: int, pause: float, page: Callable[[], object]
) -> dict[str, dict[str, float]]:
    """How closely each calibration follows the level of ``page``'s CPU time as the machine drifts.

    Each round takes both calibrations as a run records them, then the
    median CPU time of ``samples`` calls of ``page``, then waits ``pause``
    seconds. Over the rounds, a calibration whose level rises and falls with
    the page's has a correlation near 1 with it, and the page's time divided
    by it varies little (its coefficient of variation).
    """
    if rounds < 3 or samples < 1:
        raise ValueError("Give at least 3 rounds of at least 1 sample.")
    page()
    levels: dict[str, list[float]] = {
        "cpu_calibration_ms": [],
        "django_calibration_ms": [],
        "page_ms": [],
    }
    for number in range(rounds):
        for name, value in calibrate().items():
            levels[name].append(value)
        levels["page_ms"].append(statistics.median(_thread_ms(page) for _ in range(samples)))
        if number < rounds - 1:
            time.sleep(pause)
    page_levels = levels.pop("page_ms")
    result = {"page": {"median_ms": round(statistics.median(page_levels), 3)}}
    for name, values in levels.items():
        ratios = [p / v for p, v in zip(page_levels, values, strict=True)]
        result[name] = {
            "median_ms": round(statistics.median(values), 3),
            "correlation_with_page": round(_correlation(values, page_levels), 2),
            "page_ratio_cv": round(statistics.stdev(ratios) / statistics.mean(ratios), 3),
        }
    return result


def _correlation(xs: list[float], ys: list[float]) -> float:
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        # One of them did not vary at all: it follows nothing.
        return 0.0
