import pytest

from caching import api, local


class FakeClock:
    """Stands in for time.monotonic in the caching modules, so tests move time by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_process_state():
    api.reset_process_state()
    yield
    api.reset_process_state()


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(local, "clock", fake)
    return fake


class CountingLoader:
    def __init__(self, value=None) -> None:
        self.calls = 0
        self.value = value

    def __call__(self):
        self.calls += 1
        return self.value if self.value is not None else {"call": self.calls}


@pytest.fixture
def loader():
    return CountingLoader()
