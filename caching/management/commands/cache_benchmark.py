import random
import statistics
import time
import uuid

from django.core.management.base import BaseCommand

from caching import api, stats
from caching.api import cached, invalidate


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    samples = sorted(samples_ns)
    return {
        "median_us": statistics.median(samples) / 1000,
        "p95_us": samples[int(len(samples) * 0.95) - 1] / 1000,
        "p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
    }


class Command(BaseCommand):
    help = (
        "Time a local-tier hit, a shared-tier hit and a miss, and measure the hit ratio "
        "of a read mix with invalidating writes, against the configured cache."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reads", type=int, default=20000, help="Reads per timing.")
        parser.add_argument("--hotels", type=int, default=200, help="Hotels in the read mix.")
        parser.add_argument(
            "--write-every", type=int, default=200, help="One invalidating write per N reads."
        )
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, reads: int, hotels: int, write_every: int, seed: int, **options):
        # A namespace prefix of its own, so the run touches no real entries.
        run = uuid.uuid4().hex[:8]
        value = {"hotel": 1, "rooms": [{"name": "Double", "price": "120.00"}] * 5}

        def load():
            return value

        ns = f"bench{run}:1"
        cached(ns, ["page"], load)
        local_hit = []
        for _ in range(reads):
            started = time.perf_counter_ns()
            cached(ns, ["page"], load)
            local_hit.append(time.perf_counter_ns() - started)

        shared_hit = []
        for _ in range(min(reads, 2000)):
            api.local_tier.clear()
            started = time.perf_counter_ns()
            cached(ns, ["page"], load)
            shared_hit.append(time.perf_counter_ns() - started)

        miss = []
        for n in range(min(reads, 2000)):
            started = time.perf_counter_ns()
            cached(ns, ["miss", n], load)
            miss.append(time.perf_counter_ns() - started)

        self.stdout.write(f"local hit:  {_fmt(_percentiles(local_hit))}")
        self.stdout.write(f"shared hit: {_fmt(_percentiles(shared_hit))}")
        self.stdout.write(f"miss:       {_fmt(_percentiles(miss))}")

        stats.reset()
        rng = random.Random(seed)
        for n in range(reads):
            # Popularity is skewed, as in real traffic: a few hotels take most reads.
            hotel = min(int(rng.paretovariate(1.2)), hotels)
            if n % write_every == write_every - 1:
                invalidate(f"bench{run}:avail:{hotel}")
            cached(f"bench{run}:avail:{hotel}", ["search", hotel % 7], load)
            cached(f"bench{run}:hotel:{hotel}", ["page"], load)
        if not api.backend_available():
            self.stderr.write("Redis failed during the run: the numbers above are not meaningful.")
        counts = stats.process_counts()
        served = sum(group["overall"]["served"] for group in counts.values())
        total = sum(group["overall"]["reads"] for group in counts.values())
        self.stdout.write(
            f"read mix: {total} reads over {hotels} hotels, one write per {write_every} reads, "
            f"hit ratio {served / total:.1%}"
        )


def _fmt(p: dict[str, float]) -> str:
    return f"median {p['median_us']:.1f} µs, p95 {p['p95_us']:.1f} µs, p99 {p['p99_us']:.1f} µs"
