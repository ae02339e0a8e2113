"""Time every portal page of the `make run` demo, as the officer, an owner and the regulator (issue 19: "no portal
request takes over 2 s on the demo data").

    python benchmarks/bench_portal_pages.py            # seeds the demo in a scratch folder (about 30 s), then times
    python benchmarks/bench_portal_pages.py --repeat 9

The pages are the ones the portal's own links reach (tests/portal/crawl.py, as test_every_portal_page.py walks them),
each fetched once to warm up and then ``--repeat`` times through Django's test client in this process (the full
middleware and template rendering, no network), on SQLite with DEBUG on as `make run` has it. Prints the median per
page with its SQL query count, and a plain DRF view (GET /api/v1/me) as the anchor the pages are compared with.
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
USERS = ("olivia", "omar", "regina")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed fetches per page (the median is printed)")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="assay-bench-pages-")
    # As `make run` seeds: jobs (the demo's audits, batch checks, bundle) run in this process as they are queued.
    os.environ.update({"DEBUG": "1", "ASSAY_VAR_DIR": scratch, "LOG_LEVEL": "WARNING", "JOBS_IN_PROCESS": "1"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from governance.access.models import User
    from tests.portal.crawl import crawl

    setup_test_environment()  # the test client's "testserver" host is allowed
    started = time.perf_counter()
    for command in ("migrate", "install_policies", "seed_demo"):
        call_command(command, stdout=io.StringIO(), **({"verbosity": 0} if command == "migrate" else {}))
    print(f"demo seeded in {time.perf_counter() - started:.1f} s ({scratch})")

    def median_ms(client: Client, path: str) -> float:
        client.get(path)  # warm: the first fetch of a page loads its templates
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code)
        return 1000 * statistics.median(times)

    rows = []
    for username in USERS:
        client = Client()
        client.force_login(User.objects.get(username=username))
        for visit in crawl(client):
            rows.append((username, visit.path, median_ms(client, visit.path), visit.queries))
    anchor_client = Client()
    anchor_client.force_login(User.objects.get(username="olivia"))
    anchor = median_ms(anchor_client, "/api/v1/me")

    print(f"\nmedian of {args.repeat} per page (ms), SQL queries; anchor: GET /api/v1/me {anchor:.1f} ms")
    print(f"{'user':<8} {'ms':>8} {'x anchor':>9} {'queries':>8}  page")
    for username, path, ms, queries in sorted(rows, key=lambda row: -row[2]):
        print(f"{username:<8} {ms:8.1f} {ms / anchor:9.1f} {queries:8d}  {path}")
    slowest = max(rows, key=lambda row: row[2])
    print(
        f"\n{len(rows)} pages; slowest {slowest[2]:.0f} ms ({slowest[1]} as {slowest[0]}); "
        f"median page {statistics.median(r[2] for r in rows):.0f} ms; "
        f"{sum(1 for r in rows if r[2] > 2000)} over 2 s"
    )


if __name__ == "__main__":
    main()
