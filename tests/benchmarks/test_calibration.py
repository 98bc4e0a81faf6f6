"""The yardsticks a benchmark run records, and the check of how well they follow the pages."""

from argparse import Namespace

import pytest
from django.test import Client

from benchmarks import __main__ as cli
from benchmarks import calibration
from tests.factories import HotelFactory


def test_both_calibrations_are_positive_and_the_django_workload_validates_its_forms():
    figures = calibration.calibrate()

    assert set(figures) == {"cpu_calibration_ms", "django_calibration_ms"}
    assert figures["cpu_calibration_ms"] > 0
    # Rendering 150 rows and validating 40 forms does more than the pure-Python loop.
    assert figures["django_calibration_ms"] > figures["cpu_calibration_ms"]


def test_compare_follows_the_level_of_each_calibration_over_the_rounds(monkeypatch):
    # Three rounds: both calibrations as a run records them, then the page's samples.
    cpu = iter([5.0, 5.0, 5.0])  # never moves while the page does
    django = iter([10.0, 20.0, 30.0])  # in step with the page
    monkeypatch.setattr(calibration, "cpu_calibration_ms", lambda: next(cpu))
    monkeypatch.setattr(calibration, "django_calibration_ms", lambda: next(django))
    page = iter([0.9, 1.0, 9.0, 2.0, 2.0, 0.1, 3.0, 3.1, 2.9])  # medians 1, 2, 3
    monkeypatch.setattr(calibration, "_thread_ms", lambda work: next(page))

    result = calibration.compare(rounds=3, samples=3, pause=0, page=lambda: None)

    assert result["page"] == {"median_ms": 2.0}
    assert result["django_calibration_ms"] == {
        "median_ms": 20.0,
        "correlation_with_page": 1.0,
        "page_ratio_cv": 0.0,
    }
    assert result["cpu_calibration_ms"]["correlation_with_page"] == 0.0
    # The page over it: 0.2, 0.4, 0.6, whose spread is half their mean.
    assert result["cpu_calibration_ms"]["page_ratio_cv"] == 0.5


def test_compare_refuses_too_few_rounds():
    with pytest.raises(ValueError, match="at least 3 rounds"):
        calibration.compare(rounds=2, samples=5, pause=0, page=lambda: None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["calibration", "--rounds", "2"], "from 3 to 1000"),
        (["calibration", "--samples", "many"], "from 1 to 1000"),
        (["calibration", "--pause", "-1"], "from 0 to 600"),
        (["backups", "--write-rate", "0"], "from 0.1 to 1000"),
        (["run", "--idle-seconds", "forever"], "from 0 to 600"),
    ],
)
def test_arguments_out_of_range_get_a_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit):
        cli.parser().parse_args(argv)

    assert message in capsys.readouterr().err


@pytest.mark.django_db
def test_calibration_stops_with_a_clear_message_on_a_page_that_does_not_answer(
    monkeypatch, settings, tmp_path
):
    settings.STATIC_ROOT = tmp_path
    monkeypatch.setattr(calibration, "calibrate", lambda: {"cpu_calibration_ms": 1.0})
    args = Namespace(rounds=3, samples=1, pause=0.0, path=["/no/such/page/"])

    with pytest.raises(SystemExit, match="/no/such/page/ answered 404"):
        cli.cmd_calibration(args)


@pytest.mark.django_db
def test_calibration_needs_the_dataset_for_its_default_pages():
    args = Namespace(rounds=3, samples=1, pause=0.0, path=None)

    with pytest.raises(SystemExit, match="no hotels: build the dataset first"):
        cli.cmd_calibration(args)


@pytest.mark.django_db
def test_calibration_samples_the_guests_pages_and_reports_both_calibrations(
    monkeypatch, capsys, settings, tmp_path
):
    settings.STATIC_ROOT = tmp_path
    HotelFactory(city="Lisbon")
    asked = []
    real = Client.get

    def get(self, path, *args, **kwargs):
        asked.append(path.split("?")[0])
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Client, "get", get)
    figures = iter([1.0, 10.0, 1.5, 12.0, 2.0, 14.0])
    monkeypatch.setattr(
        calibration,
        "calibrate",
        lambda: {"cpu_calibration_ms": next(figures), "django_calibration_ms": next(figures)},
    )
    args = Namespace(rounds=3, samples=1, pause=0.0, path=None)

    result = cli.cmd_calibration(args)

    assert set(result) == {"page", "cpu_calibration_ms", "django_calibration_ms"}
    assert result["django_calibration_ms"]["median_ms"] == 12.0
    hotel_page = asked[1]
    assert asked == ["/", hotel_page, "/search/"] * 4  # once before the rounds, then in each
    assert hotel_page.startswith("/hotels/")
    printed = capsys.readouterr().out
    assert printed.count("cpu_calibration_ms") == 1
    assert printed.count("django_calibration_ms") == 1
