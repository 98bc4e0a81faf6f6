"""What a web process sets up as it starts."""

import json
import os
import subprocess
import sys

import pytest

from tests.servers import ROOT

PROBE = (
    "import gc, json; from config.{module} import application; "
    "print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"
)


@pytest.mark.parametrize("module", ["wsgi", "asgi"])
@pytest.mark.parametrize(("setting", "gen0"), [(None, 10_000), ("2500", 2_500)])
def test_a_web_process_freezes_what_it_loaded_and_collects_young_objects_less_often(
    module, setting, gen0
):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("GC_GEN0_THRESHOLD", None)
    if setting:
        env["GC_GEN0_THRESHOLD"] = setting
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (threshold, frozen) = json.loads(result.stdout.strip().splitlines()[-1])
    assert threshold == [gen0, 10, 10]
    # Django, the project's modules and URL patterns: never scanned again.
    assert frozen > 10_000
