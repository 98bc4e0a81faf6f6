import json

import pytest
from django.core.management import call_command

from caching import stats
from caching.api import cached, invalidate


@pytest.fixture(autouse=True)
def _clean_shared_counters():
    stats.reset_shared()
    yield
    stats.reset_shared()


def test_namespaces_are_counted_by_group():
    assert stats.group_of("availability:hotel:42") == "availability:hotel:*"
    assert stats.group_of("availability:city:são paulo") == "availability:city:*"
    assert stats.group_of("hotel:7") == "hotel:*"
    assert stats.group_of("catalogue") == "catalogue"


def test_hits_and_misses_are_counted_per_group_and_tier(loader):
    for hotel_id in (1, 2):
        cached(f"hotel:{hotel_id}", ["page"], loader)
        cached(f"hotel:{hotel_id}", ["page"], loader)
    cached("catalogue", ["cities"], loader)

    counts = stats.process_counts()

    assert counts["hotel:*"]["local"] == {"hits": 2, "misses": 2, "ratio": 0.5}
    assert counts["hotel:*"]["shared"] == {"hits": 0, "misses": 2, "ratio": 0.0}
    assert counts["hotel:*"]["overall"] == {"reads": 4, "served": 2, "ratio": 0.5}
    assert counts["catalogue"]["local"]["misses"] == 1


def test_shared_counters_add_up_every_process(loader):
    cached("hotel:1", ["page"], loader)
    cached("hotel:1", ["page"], loader)
    assert stats.flush()
    stats.reset()  # as if the next counts came from another process
    cached("hotel:1", ["page"], loader)
    assert stats.flush()

    shared = stats.shared_counts()

    assert shared["hotel:*"]["local"] == {"hits": 2, "misses": 1, "ratio": 0.6667}
    assert shared["hotel:*"]["shared"]["misses"] == 1


def test_counts_are_flushed_at_most_once_per_interval(settings, clock, loader):
    settings.CACHE_STATS_FLUSH_INTERVAL = 10
    cached("hotel:1", ["page"], loader)  # the first read flushes
    cached("hotel:1", ["page"], loader)

    before = stats.shared_counts()["hotel:*"]["local"]["hits"]
    clock.advance(10)
    cached("hotel:1", ["page"], loader)
    after = stats.shared_counts()["hotel:*"]["local"]["hits"]

    assert (before, after) == (0, 2)


def test_summary_is_json_serialisable_and_reports_the_local_size(loader):
    cached("hotel:1", ["page"], loader)
    cached("hotel:2", ["page"], loader)
    invalidate("hotel:1")

    summary = json.loads(json.dumps(stats.summary()))

    assert summary["backend_available"] is True
    assert summary["local"]["size"] == 2
    assert summary["local"]["version_check_interval_seconds"] <= 1
    assert summary["shared"]["hotel:*"]["local"]["misses"] == 2


def test_cache_stats_command_prints_a_row_per_group_and_tier(capsys, loader):
    cached("hotel:1", ["page"], loader)
    cached("hotel:1", ["page"], loader)

    call_command("cache_stats")
    out = capsys.readouterr().out

    assert "Redis tier: available" in out
    assert "hotel:*" in out and "local" in out and "overall" in out
    assert "50.0%" in out


def test_cache_stats_command_prints_json_and_resets(capsys, loader):
    cached("catalogue", ["cities"], loader)

    call_command("cache_stats", "--json", "--reset")
    out = capsys.readouterr().out
    printed = json.loads(out[: out.rindex("}") + 1])

    assert printed["shared"]["catalogue"]["local"]["misses"] == 1
    assert stats.shared_counts() == {}
