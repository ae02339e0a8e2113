"""Trail performance on a real database: appends/s (1 and 8 writers), verify_trail at scale, proof latency.

    python benchmarks/bench_trail.py                       # SQLite in a temporary file, 1,000,000 events
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/bench_trail.py --events 200000

PostgreSQL runs in a scratch database (assay_bench) created and dropped here. The script prints figures;
it asserts nothing about time (this machine is shared and noisy: compare ratios measured in one run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def configure(database_url: str | None, name: str = "assay_bench") -> str | None:
    """Point Django at a scratch database (PostgreSQL: ``name``, each script its own, so two benchmarks never drop
    each other's); returns the PostgreSQL admin URL to drop it with, if any."""
    scratch = tempfile.mkdtemp(prefix="assay-bench-")
    os.environ.update(DEBUG="1", TRAIL_KEY_DIR=scratch, ASSAY_VAR_DIR=scratch, TRAIL_CHECKPOINT_EVERY_EVENTS="1000")
    admin_url = None
    if database_url and database_url.startswith("postgres"):
        import psycopg

        admin_url = database_url
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + name
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return admin_url


def bench_appends(total: int, writers: int) -> float:
    """Events per second with ``writers`` threads appending ``total`` events between them."""
    from django.db import connections, transaction

    from governance.trail import events
    from governance.trail.log import Actor, record_event

    per_writer = total // writers
    start = threading.Barrier(writers + 1)

    def work(worker: int) -> None:
        start.wait()
        for i in range(per_writer):
            with transaction.atomic():
                record_event(
                    events.TEAM_CREATED,
                    actor=Actor.system(),
                    object_type="bench",
                    object_id=f"{worker}-{i}",
                    payload={"slug": f"b{worker}-{i}"},
                )
        connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return per_writer * writers / (time.perf_counter() - began)


def bulk_load(
    target: int,
    *,
    describe: Callable[[int], tuple[str, str, str, dict[str, object]]] | None = None,
    start: dt.datetime | None = None,
    step: dt.timedelta = dt.timedelta(milliseconds=1),
    show_progress: bool = True,
) -> float:
    """Grow the trail to ``target`` events quickly (the same rows ``record_event`` would write); returns seconds.

    ``describe(seq)`` gives each event's (action, object type, object id, payload); by default a bulk of
    ``team.created`` events. Times start at ``start`` (default 2026-01-01), ``step`` apart.
    """
    from django.db import connection, transaction

    from governance.trail.leaf import encode_leaf
    from governance.trail.log import compact_range, tree_size
    from governance.trail.merkle import leaf_hash
    from governance.trail.models import Event, MerkleNode

    def team_created(seq: int) -> tuple[str, str, str, dict[str, object]]:
        return "team.created", "bench", str(seq), {"slug": f"bulk-{seq}"}

    describe = describe or team_created
    began = time.perf_counter()
    size = tree_size()
    edge = compact_range(size)
    prev = bytes(Event.objects.get(seq=size - 1).leaf_hash) if size else b""
    moment = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    batch = 20000
    while size < target:
        events, nodes = [], []
        for seq in range(size, min(target, size + batch)):
            recorded_at = moment + step * seq
            action, object_type, object_id, payload = describe(seq)
            leaf = encode_leaf(
                seq=seq,
                prev_hash=prev,
                recorded_at=recorded_at,
                action=action,
                actor={"kind": "system", "token": None, "user": None},
                object_type=object_type,
                object_id=object_id,
                payload=payload,
            )
            digest = leaf_hash(leaf)
            events.append(
                Event(
                    seq=seq,
                    recorded_at=recorded_at,
                    action=action,
                    actor_kind="system",
                    object_type=object_type,
                    object_id=object_id,
                    payload=payload,
                    leaf=leaf,
                    leaf_hash=digest,
                    prev_hash=prev,
                )
            )
            nodes.extend(MerkleNode(level=lv, index=i, hash=h) for (lv, i), h in edge.append(digest))
            prev = digest
        with transaction.atomic():
            Event.objects.bulk_create(events, batch_size=2000)
            MerkleNode.objects.bulk_create(nodes, batch_size=5000)
        size += len(events)
        if show_progress:
            print(f"  loaded {size:,} events ({time.perf_counter() - began:.0f} s)", end="\r", flush=True)
    if show_progress:
        print()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - began


def bench_proofs(samples: int) -> tuple[float, float, float]:
    """(mean ms, p99 ms, queries per proof) for inclusion proofs at the current size."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from governance.trail.log import prove_inclusion, tree_size

    size = tree_size()
    rng = random.Random(7)
    latencies, query_counts = [], []
    for _ in range(samples):
        seq = rng.randrange(size)
        reset_queries()  # the query log is capped (9000): a full log would make every count read 0
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            prove_inclusion(seq=seq, size=size)
            latencies.append((time.perf_counter() - began) * 1000)
        query_counts.append(len(queries))
    latencies.sort()
    return statistics.mean(latencies), latencies[int(len(latencies) * 0.99)], statistics.mean(query_counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    args = parser.parse_args()
    admin_url = configure(os.environ.get("DATABASE_URL"))
    from django.db import connection

    from governance.trail.checkpoints import issue_checkpoint
    from governance.trail.verify import verify_trail

    print(f"database: {connection.vendor}")
    one = bench_appends(args.appends, 1)
    eight = bench_appends(args.appends, 8)
    print(f"appends/s, 1 writer:  {one:8.0f}")
    print(f"appends/s, 8 writers: {eight:8.0f}   (8 writers / 1 writer = {eight / one:.2f}; appends are serialised)")
    print(f"bulk-loading to {args.events:,} events ...")
    print(f"bulk load: {bulk_load(args.events):.0f} s")
    issue_checkpoint(reason="bench")
    mean, p99, queries = bench_proofs(1000)
    print(f"inclusion proof at {args.events:,} events: mean {mean:.2f} ms, p99 {p99:.2f} ms, {queries:.1f} queries")
    timings = {}
    for workers in (1, 2):
        began = time.perf_counter()
        report = verify_trail(workers=workers)
        timings[workers] = elapsed = time.perf_counter() - began
        print(
            f"verify_trail over {report.events:,} events, {workers} process(es): {elapsed:.1f} s "
            f"({elapsed / report.events * 1e6:.1f} us/event), ok={report.ok}"
        )
    print(f"verify_trail speed-up with 2 worker processes: {timings[1] / timings[2]:.2f}x")
    if admin_url:
        connection.close()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS assay_bench")


if __name__ == "__main__":
    main()
