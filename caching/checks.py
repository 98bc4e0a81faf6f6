from django.core.checks import Error, register

from . import conf


@register()
def check_cache_settings(app_configs, **kwargs):
    errors = []
    interval = conf.get("CACHE_VERSION_CHECK_INTERVAL")
    if not 0 <= interval <= 1:
        errors.append(
            Error(
                "CACHE_VERSION_CHECK_INTERVAL must be between 0 and 1 second.",
                hint="It bounds how long another process may serve a value after a write.",
                id="caching.E001",
            )
        )
    if conf.get("CACHE_LOCAL_MAX_ENTRIES") < 0:
        errors.append(Error("CACHE_LOCAL_MAX_ENTRIES must be 0 or more.", id="caching.E002"))
    if conf.get("CACHE_STAMPEDE_LOCK_TIMEOUT") <= 0:
        errors.append(Error("CACHE_STAMPEDE_LOCK_TIMEOUT must be more than 0.", id="caching.E003"))
    if conf.get("CACHE_FRAGMENT_MAX_ENTRIES") < 0:
        errors.append(Error("CACHE_FRAGMENT_MAX_ENTRIES must be 0 or more.", id="caching.E004"))
    if conf.get("CACHE_PAGE_MAX_ENTRIES") < 0:
        errors.append(Error("CACHE_PAGE_MAX_ENTRIES must be 0 or more.", id="caching.E005"))
    return errors
