"""What a web process sets up as it starts."""

import json

import pytest

from tests.servers import python

PROBE = (
    "import gc, json; from config.{module} import application; "
    "print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"
)


@pytest.mark.parametrize("module", ["wsgi", "asgi"])
@pytest.mark.parametrize(("setting", "gen0"), [(None, 10_000), ("2500", 2_500)])
def test_a_web_process_freezes_what_it_loaded_and_collects_young_objects_less_often(
    module, setting, gen0
):
    result = python(PROBE.format(module=module), GC_GEN0_THRESHOLD=setting)
    assert result.returncode == 0, result.stderr
    (threshold, frozen) = json.loads(result.stdout.strip().splitlines()[-1])
    assert threshold == [gen0, 10, 10]
    # Django, the project's modules and URL patterns: never scanned again.
    assert frozen > 10_000


@pytest.mark.parametrize("setting", ["0", "-5", "lots", "1e4"])
def test_a_collector_threshold_that_is_not_a_positive_whole_number_is_refused(setting):
    result = python("from django.conf import settings; settings.DEBUG", GC_GEN0_THRESHOLD=setting)
    assert result.returncode != 0
    assert "GC_GEN0_THRESHOLD must be a whole number of 1 or more" in result.stderr
    assert repr(setting) in result.stderr
