import json

from django.core.management.base import BaseCommand

from caching import stats


class Command(BaseCommand):
    help = (
        "Show cache hits and misses per namespace group and tier, summed over every "
        "process as of its last flush, with the hit ratio and this process's local size."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the summary as JSON."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Zero the shared counters after printing them."
        )

    def handle(self, *args, as_json: bool = False, reset: bool = False, **options):
        summary = stats.summary()
        if as_json:
            self.stdout.write(_json_dumps(summary))
        else:
            self._print_table(summary)
        if reset:
            stats.reset_shared()
            self.stdout.write(self.style.SUCCESS("Shared counters reset."))

    def _print_table(self, summary: dict) -> None:
        local = summary["local"]
        backend = "available" if summary["backend_available"] else "UNAVAILABLE (reads bypass it)"
        self.stdout.write(f"Redis tier: {backend}")
        self.stdout.write(
            f"Local tier (this process): {local['size']}/{local['max_entries']} entries, "
            f"{local['bytes'] / 1024:.0f}/{local['max_bytes'] / 1024:.0f} KiB, "
            f"TTL {local['ttl_seconds']:g} s, "
            f"versions checked every {local['version_check_interval_seconds']:g} s"
        )
        shared = summary["shared"]
        if shared is None:
            self.stdout.write(self.style.WARNING("Shared counters cannot be read: Redis failed."))
            return
        if not shared:
            self.stdout.write("No cache reads counted yet.")
            return
        header = f"{'namespace':<28} {'tier':<8} {'hits':>10} {'misses':>10} {'ratio':>7}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for group, tiers in shared.items():
            for tier in (*stats.TIERS, "overall"):
                row = tiers.get(tier)
                if row is None:
                    continue
                if tier == "overall":
                    hits, misses = row["served"], row["reads"] - row["served"]
                else:
                    hits, misses = row["hits"], row["misses"]
                ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1%}"
                self.stdout.write(f"{group:<28} {tier:<8} {hits:>10} {misses:>10} {ratio:>7}")


def _json_dumps(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
