"""How a long-lived process that serves requests tunes Python's garbage collector."""

import gc

from django.conf import settings


def tune_garbage_collector() -> None:
    """Freeze what start-up loaded, and collect the youngest objects less often.

    Python's collector runs every 700 new container objects, and now and then
    scans every object the process holds: the modules, URL patterns, compiled
    templates and the caches that fill as it serves. A request allocates
    thousands, so the collector ran a few times a request. Frozen, start-up's
    objects are never scanned again; with GC_GEN0_THRESHOLD (10,000 by default)
    the youngest generation is collected every few requests.
    Reference counting frees all but cycles at once either way, so memory
    grows only by the cycles waiting for the next collection.
    """
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(settings.GC_GEN0_THRESHOLD, gen1, gen2)
