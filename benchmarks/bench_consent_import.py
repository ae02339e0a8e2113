"""Bulk consent import: a million events end to end, and the ratio against recording them one by one.

    python benchmarks/bench_consent_import.py                       # SQLite in a temporary file, 1,000,000 rows
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/bench_consent_import.py

PostgreSQL runs in a scratch database (assay_bench_consent) created and dropped here. The synthetic file has one
subject per 2.5 rows, two purposes and about 5% withdrawals (each after a consent given earlier in the file), in
shuffled order. The import is timed end to end (hash, parse, check, insert, trail event, findings); a smaller
sample is imported both ways in the same run, the bulk import against ``do_record_consent`` row by row (the
naive path), so the figure to compare across machines is the ratio. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PURPOSES = ("model_training", "analytics")
COLUMNS = ("external_id", "purpose", "kind", "occurred_at", "expires_at", "source", "notice_version", "controller")
COLUMNS += ("pii_categories", "collection_method", "jurisdiction")
RECEIPT = ("web-signup", "2024-03", "Acme Credit Ltd", "email;income;credit_history", "checkbox", "EU")
SCRATCH_DB = "assay_bench_consent"
PARIS_SUMMER = timezone(timedelta(hours=2))  # withdrawals carry an offset, consents a Z


def configure(database_url: str | None) -> str | None:
    """Point Django at a scratch database; returns the PostgreSQL admin URL to drop it with, if any."""
    scratch = tempfile.mkdtemp(prefix="assay-bench-")
    os.environ.update(
        DEBUG="1",
        TRAIL_KEY_DIR=scratch,
        ASSAY_VAR_DIR=scratch,
        TRAIL_CHECKPOINT_EVERY_EVENTS="1000",
        LOG_LEVEL="WARNING",
    )
    admin_url = None
    if database_url and database_url.startswith("postgres"):
        import psycopg

        admin_url = database_url
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
            conn.execute(f"CREATE DATABASE {SCRATCH_DB}")
        os.environ["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + f"/{SCRATCH_DB}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return admin_url


def write_events(path: Path, *, rows: int, prefix: str, seed: int = 7) -> int:
    """A CSV of ``rows`` synthetic events; returns how many of them are withdrawals or expiries."""
    rng = random.Random(seed)
    subjects = max(1, int(rows * 0.4))
    withdrawals = rows // 20
    start = datetime(2024, 1, 1, tzinfo=UTC)
    given = []
    for i in range(rows - withdrawals):
        occurred = start + timedelta(seconds=i * 7, microseconds=rng.randrange(3) * 250_000)
        expires = (occurred + timedelta(days=365)).isoformat() if rng.random() < 0.3 else ""
        given.append((f"{prefix}{i % subjects:08d}", PURPOSES[(i // subjects) % 2], "given", occurred, expires))
    table = [(s, p, k, o.isoformat().replace("+00:00", "Z"), e) for s, p, k, o, e in given]
    for _ in range(withdrawals):
        subject, purpose, _, occurred, _ = given[rng.randrange(len(given))]
        kind = "withdrawn" if rng.random() < 0.8 else "expired"
        table.append((subject, purpose, kind, (occurred + timedelta(days=30)).astimezone(PARIS_SUMMER).isoformat(), ""))
    rng.shuffle(table)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for subject, purpose, kind, occurred, expires in table:
            writer.writerow([subject, purpose, kind, occurred, expires, *RECEIPT])
    return withdrawals


def import_bulk(path: Path, officer: object) -> tuple[float, int]:
    """Seconds for the bulk import of ``path``, and the rows it wrote."""
    from governance.data.consent_import import import_consent_file
    from governance.trail.log import Actor

    began = time.perf_counter()
    outcome = import_consent_file(user=officer, actor=Actor.for_user(officer), path=path, file_name=path.name)  # type: ignore[arg-type]
    return time.perf_counter() - began, outcome.batch.row_count


def import_naive(path: Path, officer: object) -> float:
    """Seconds to record every row of ``path`` with do_record_consent, one transaction and trail event each.

    Rows are taken in occurred_at order, as a caller of the one-event path must (a withdrawal needs its consent
    recorded first); parsing and sorting are not timed.
    """
    from governance.data.actions import do_record_consent
    from governance.data.consent_import import pii_categories
    from governance.data.models import Purpose
    from governance.trail.log import Actor

    purposes = {p.code: p for p in Purpose.objects.all()}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["at"] = datetime.fromisoformat(row["occurred_at"])
    rows.sort(key=lambda row: row["at"])
    actor = Actor.for_user(officer)
    began = time.perf_counter()
    for row in rows:
        do_record_consent(
            user=officer,  # type: ignore[arg-type]
            actor=actor,
            purpose=purposes[row["purpose"]],
            kind=row["kind"],
            occurred_at=row["at"],
            external_id=row["external_id"],
            expires_at=datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
            source=row["source"],
            notice_version=row["notice_version"],
            controller=row["controller"],
            pii_categories=pii_categories(row["pii_categories"]),
            collection_method=row["collection_method"],
            jurisdiction=row["jurisdiction"],
        )
    return time.perf_counter() - began


def write_csv_warm_up(work: Path) -> Path:
    path = work / "warm-up.csv"
    write_events(path, rows=20, prefix="w-")
    return path


def generate(work: Path, *, rows: int, sample: int) -> tuple[int, float]:
    """The three files (two samples, one big), written by a child process so that its memory does not count in
    this process's peak; returns the big file's withdrawals and the seconds taken."""
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pool.apply(write_events, (work / "sample-naive.csv",), {"rows": sample, "prefix": "n-"})
        pool.apply(write_events, (work / "sample-bulk.csv",), {"rows": sample, "prefix": "s-"})
        withdrawals = pool.apply(write_events, (work / "events.csv",), {"rows": rows, "prefix": "c-"})
    return withdrawals, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="rows imported both ways for the ratio")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="assay-bench-consent-"))
    withdrawals, seconds = generate(work, rows=args.rows, sample=args.sample)
    big = work / "events.csv"
    size = big.stat().st_size
    print(f"generated {args.rows:,} rows ({withdrawals:,} withdrawals, {size / 1e6:.0f} MB) in {seconds:.0f} s")

    admin_url = configure(os.environ.get("DATABASE_URL"))
    from django.db import connection

    from governance.access.actions import do_create_user
    from governance.data.actions import do_create_purpose
    from governance.data.models import ConsentEvent
    from governance.trail.log import Actor

    officer = do_create_user(username="bench-officer", role="officer", teams=[], password=None, actor=Actor.system())
    for code in PURPOSES:
        do_create_purpose(
            user=officer, actor=Actor.for_user(officer), code=code, description=code, legal_basis="consent"
        )
    print(f"database: {connection.vendor}")

    # pyarrow (and the pandas it loads) are imported on first use, once per process: not part of any import.
    import_bulk(write_csv_warm_up(work), officer)
    naive = import_naive(work / "sample-naive.csv", officer)
    bulk, _ = import_bulk(work / "sample-bulk.csv", officer)
    print(
        f"sample of {args.sample:,} rows: one by one {naive:.1f} s ({args.sample / naive:,.0f} rows/s), "
        f"bulk {bulk:.2f} s ({args.sample / bulk:,.0f} rows/s); bulk / one by one = {naive / bulk:.0f}x faster"
    )

    before = ConsentEvent.objects.count()
    elapsed, rows = import_bulk(big, officer)
    assert ConsentEvent.objects.count() - before == rows == args.rows
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in kilobytes on Linux
    print(
        f"bulk import of {rows:,} rows: {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s, {size / elapsed / 1e6:.0f} "
        f"MB/s of CSV); peak memory of this process {peak:,.0f} MB"
    )
    if admin_url:
        connection.close()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
