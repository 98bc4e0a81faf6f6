"""How fast the machine is, measured before a run so that runs at other times compare.

Two fixed workloads, neither touching the project's code (a change to it
must not move the yardstick):

- *CPU calibration*: a small pure-Python loop, the best of 7 runs. Its data
  fits in the core's own caches, and the best run is the machine at its
  fastest moment: on 2026-12-02 it read 3.48 ms before a load test whose
  pages cost 1.6 to 1.7 times what they had cost on a day it also read
  3.48 ms.
- *Django calibration*: Django's template engine and forms, the code most
  of a request runs through, in this thread's CPU time like the load test's
  per-endpoint figures, the median of 25 runs.

``python -m benchmarks calibration`` samples both, and pages, in rounds a
few seconds apart while the shared machine drifts. Over three such runs of
16 rounds, the median of the Django workload followed the pages' median CPU
time with a correlation of 0.90 to 0.96 (the pages' time divided by it
varied by 6 to 7%), the pure-Python loop's median 0.85 to 0.90 (9 to 12%),
and its best only 0.35 to 0.80 (10 to 19%).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import cache


def _python_workload() -> None:
    counts: dict[str, int] = {}
    for i in range(20_000):
        key = f"k{i % 997}"
        counts[key] = counts.get(key, 0) + i
    sorted(counts.items(), key=lambda item: item[1])


def cpu_calibration_ms(repeat: int = 7) -> float:
    """The best time of the pure-Python loop, in ms."""
    best = float("inf")
    for _ in range(repeat):
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


def django_calibration_ms(repeat: int = 25) -> float:
    """The median CPU time of Django's template engine and forms on a fixed workload, in ms."""
    _django_workload()
    return round(statistics.median(_thread_ms(_django_workload) for _ in range(repeat)), 2)


def calibrate(*, repeat: int | None = None) -> dict[str, float]:
    """Both calibrations, for ``report.machine``; ``repeat`` shortens them for the tests."""
    return {
        "cpu_calibration_ms": cpu_calibration_ms(**({"repeat": repeat} if repeat else {})),
        "django_calibration_ms": django_calibration_ms(**({"repeat": repeat} if repeat else {})),
    }


def _thread_ms(work: Callable[[], object]) -> float:
    started = time.thread_time()
    work()
    return (time.thread_time() - started) * 1000


def compare(*, rounds: int, samples: int, pause: float, page: Callable[[], object]) -> dict:
    """How closely each yardstick follows the level of ``page``'s CPU time as the machine drifts.

    Each round samples both workloads and ``page`` in turn, ``samples``
    times, then waits ``pause`` seconds. Over the rounds, a yardstick whose
    level rises and falls with the page's has a correlation near 1 with it,
    and the page's time divided by it varies little (its coefficient of
    variation).
    """
    if rounds < 3 or samples < 1:
        raise ValueError("Give at least 3 rounds of at least 1 sample.")
    for work in (_python_workload, _django_workload, page):
        work()
    levels: dict[str, list[float]] = {
        "python median": [],
        "python best": [],
        "django median": [],
        "django best": [],
        "page median": [],
    }
    for number in range(rounds):
        taken: dict[str, list[float]] = {"python": [], "django": [], "page": []}
        for _ in range(samples):
            taken["python"].append(_thread_ms(_python_workload))
            taken["django"].append(_thread_ms(_django_workload))
            taken["page"].append(_thread_ms(page))
        for name, values in taken.items():
            levels[f"{name} median"].append(statistics.median(values))
            if name != "page":
                levels[f"{name} best"].append(min(values))
        if number < rounds - 1:
            time.sleep(pause)
    page_levels = levels.pop("page median")
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
