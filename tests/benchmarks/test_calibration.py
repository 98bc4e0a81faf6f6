"""The yardsticks a benchmark run records, and the check of how well they follow the pages."""

import itertools
from argparse import Namespace

import pytest

from benchmarks import __main__ as cli
from benchmarks import calibration


def test_both_calibrations_are_positive_and_the_django_workload_validates_its_forms():
    figures = calibration.calibrate(repeat=2)

    assert set(figures) == {"cpu_calibration_ms", "django_calibration_ms"}
    assert figures["cpu_calibration_ms"] > 0
    # Rendering 150 rows and validating 40 forms does more than the pure-Python loop.
    assert figures["django_calibration_ms"] > figures["cpu_calibration_ms"]


def test_compare_follows_the_levels_of_each_yardstick_over_the_rounds(monkeypatch):
    # Three rounds of two samples each, taken in turn: python, django, page.
    page = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    django = [9.0, 11.0, 19.0, 21.0, 29.0, 31.0]  # medians 10, 20, 30: in step with the page
    python = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]  # never moves while the page does
    scripted = iter(itertools.chain.from_iterable(zip(python, django, page, strict=True)))
    monkeypatch.setattr(calibration, "_thread_ms", lambda work: next(scripted))

    result = calibration.compare(rounds=3, samples=2, pause=0, page=lambda: None)

    assert result["page"] == {"median_ms": 2.0}
    assert result["django median"] == {
        "median_ms": 20.0,
        "correlation_with_page": 1.0,
        "page_ratio_cv": 0.0,
    }
    assert result["django best"]["median_ms"] == 19.0
    assert result["django best"]["correlation_with_page"] == 1.0
    assert result["python median"]["correlation_with_page"] == 0.0
    # The page over it: 0.2, 0.4, 0.6, whose spread is half their mean.
    assert result["python median"]["page_ratio_cv"] == 0.5


def test_compare_refuses_too_few_rounds():
    with pytest.raises(ValueError, match="at least 3 rounds"):
        calibration.compare(rounds=2, samples=5, pause=0, page=lambda: None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["calibration", "--rounds", "2"], "from 3 to 1000"),
        (["calibration", "--samples", "many"], "from 1 to 1000"),
        (["calibration", "--pause", "-1"], "from 0 to 600"),
    ],
)
def test_calibration_arguments_out_of_range_get_a_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit):
        cli.parser().parse_args(argv)

    assert message in capsys.readouterr().err


@pytest.mark.django_db
def test_calibration_stops_with_a_clear_message_on_a_page_that_does_not_answer():
    args = Namespace(rounds=3, samples=1, pause=0.0, path=["/no/such/page/"])

    with pytest.raises(SystemExit, match="/no/such/page/ answered 404"):
        cli.cmd_calibration(args)


@pytest.mark.django_db
def test_calibration_reports_every_yardstick_against_the_pages(capsys):
    args = Namespace(rounds=3, samples=1, pause=0.0, path=["/"])

    result = cli.cmd_calibration(args)

    assert set(result) == {"page", "python median", "python best", "django median", "django best"}
    printed = capsys.readouterr().out
    for name in ("python median", "python best", "django median", "django best"):
        assert printed.count(name) == 1
