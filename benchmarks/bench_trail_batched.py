"""Trail appends/s, inline beside batched sequencing, in one run; and how soon a batched event is provable.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/bench_trail_batched.py
    python benchmarks/bench_trail_batched.py              # SQLite in a temporary file (batched gains nothing there)

Writers are separate processes (as web workers are), each with its own connection, each append in its own
transaction (as actions do), durable (the database's default synchronous commit). Three configurations: inline;
batched with the sequencer in the writers' processes (the embedded default); batched with a dedicated sequencer
process (``manage.py sequence_trail --follow``'s loop, PostgreSQL only). "Provable" is when the event's sequencing
transaction committed: from then its inclusion proof is served. Time to provable is measured per event from the
moment its writer's transaction committed. Checkpoints are left to a worker, as in production: one is issued before
the run and none falls due during it (with no worker here, a due checkpoint would queue a task after every commit).
PostgreSQL runs in a scratch database (assay_bench_batched), created and dropped here. The script prints figures
and asserts nothing about time; it does check the trail verifies.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCRATCH_DB = "assay_bench_batched"


def configure(database_url: str | None) -> str | None:
    """Point Django at a scratch database (in this process and the writers it starts); returns the admin URL."""
    scratch = tempfile.mkdtemp(prefix="assay-bench-")
    os.environ.update(DEBUG="1", TRAIL_KEY_DIR=scratch, ASSAY_VAR_DIR=scratch)
    os.environ.update(TRAIL_CHECKPOINT_EVERY_EVENTS=str(10**9), TRAIL_CHECKPOINT_EVERY_SECONDS=str(10**9))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
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
    return admin_url


def record_batches() -> list[tuple[list[int], float]]:
    """Patch this process's sequencer to note each batch: (queue ids, when their sequencing committed)."""
    from governance.trail import sequencer

    sequenced: list[tuple[list[int], float]] = []
    real_write, real_batch = sequencer.write_batch, sequencer.sequence_batch
    taken: list[int] = []

    def write_batch(head: Any, rows: Any) -> int:
        taken.extend(row.id for row in rows)
        return real_write(head, rows)

    def sequence_batch(**kwargs: Any) -> int | None:
        taken.clear()
        done = real_batch(**kwargs)
        if taken:
            sequenced.append((list(taken), time.time()))
        return done

    sequencer.write_batch, sequencer.sequence_batch = write_batch, sequence_batch  # type: ignore[assignment]
    return sequenced


def writer(mode: str, worker: int, appends: int, barrier: Any, results: Any) -> None:
    """One writer process: ``appends`` events, each in its own transaction; reports its timings."""
    os.environ["TRAIL_SEQUENCING"] = mode
    import django

    django.setup()
    from django.db import connection, transaction

    from governance.trail import events
    from governance.trail.log import Actor, record_event
    from governance.trail.models import PendingEvent

    committed: list[tuple[int, float]] = []  # (queue id, when its transaction committed)
    sequenced = record_batches()  # batches this process sequenced (none while a dedicated sequencer runs)
    connection.ensure_connection()
    barrier.wait()
    began = time.perf_counter()
    for i in range(appends):
        stamp: list[float] = []
        with transaction.atomic():
            transaction.on_commit(lambda stamp=stamp: stamp.append(time.time()))  # before the sequencer's hook
            event = record_event(
                events.TEAM_CREATED,
                actor=Actor.system(),
                object_type="bench",
                object_id=f"{worker}-{i}",
                payload={"slug": f"b{worker}-{i}"},
            )
        if isinstance(event, PendingEvent):
            committed.append((event.queued_id, stamp[0]))
    elapsed = time.perf_counter() - began
    connection.close()
    results.put((elapsed, committed, sequenced))


def dedicated_sequencer(poll_seconds: float, live: Any, stop: Any, results: Any) -> None:
    """The dedicated sequencer's loop (``sequence_trail --follow``) in its own process, noting its batches."""
    os.environ["TRAIL_SEQUENCING"] = "batched"
    import django

    django.setup()
    from django.db import connection

    from governance.trail.sequencer_loop import follow

    sequenced = record_batches()
    follow(poll_seconds=poll_seconds, should_stop=stop.is_set, on_live=live.set)
    connection.close()
    results.put(sequenced)


def run(mode: str, writers: int, total: int, *, poll_seconds: float = 0.0) -> dict[str, Any]:
    """``total`` appends by ``writers`` processes; appends/s over the slowest writer, and time-to-provable.

    ``poll_seconds``: run a dedicated sequencer polling that often (batched mode), else none.
    """
    from django.db import connection

    from governance.trail.sequencer import pending_exists, sequence_all

    context = mp.get_context("spawn")
    barrier, results = context.Barrier(writers + 1), context.Queue()
    dedicated, live, stop, from_sequencer = None, context.Event(), context.Event(), context.Queue()
    if poll_seconds:
        dedicated = context.Process(target=dedicated_sequencer, args=(poll_seconds, live, stop, from_sequencer))
        dedicated.start()
        if not live.wait(timeout=600):
            raise SystemExit("the dedicated sequencer did not start")
    per_writer = total // writers
    processes = [context.Process(target=writer, args=(mode, w, per_writer, barrier, results)) for w in range(writers)]
    for process in processes:
        process.start()
    barrier.wait()
    began = time.perf_counter()
    outcomes = [results.get(timeout=1800) for _ in processes]
    wall = time.perf_counter() - began
    for process in processes:
        process.join()
    batches = [batch for _, _, done in outcomes for batch in done]
    if dedicated is not None:
        while pending_exists():  # the dedicated sequencer's last batches
            time.sleep(0.05)
        stop.set()
        batches += from_sequencer.get(timeout=600)
        dedicated.join()
    connection.close()
    left = sequence_all()  # what the writers' try-locks left for the sweeper (0 unless one died)
    committed = {queue_id: at for _, done, _ in outcomes for queue_id, at in done}
    sequenced = {queue_id: at for ids, at in batches for queue_id in ids}
    waits = sorted(sequenced[q] - at for q, at in committed.items() if q in sequenced)
    figures: dict[str, Any] = {"rate": per_writer * writers / wall, "left": left}
    if waits:
        figures.update(
            p50=statistics.median(waits) * 1000,
            p99=waits[min(len(waits) - 1, int(len(waits) * 0.99))] * 1000,
            max=waits[-1] * 1000,
            batches=len(batches),
            missing=len(committed) - len(waits),
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=4000, help="events per configuration")
    parser.add_argument("--inline-appends", type=int, default=2000, help="events per inline configuration")
    parser.add_argument("--poll-ms", type=int, default=50, help="the dedicated sequencer's look at the queue")
    args = parser.parse_args()
    admin_url = configure(os.environ.get("DATABASE_URL"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from governance.trail.checkpoints import issue_checkpoint
    from governance.trail.verify import verify_trail

    call_command("migrate", verbosity=0)
    issue_checkpoint(reason="bench")  # so that none is due during the run (see the module's docstring)
    print(f"database: {connection.vendor}; load average before: {os.getloadavg()}")
    configurations = [("inline", args.inline_appends, 0.0), ("batched", args.appends, 0.0)]
    if connection.vendor == "postgresql":
        configurations.append(("dedicated", args.appends, args.poll_ms / 1000))
    rates: dict[tuple[str, int], float] = {}
    for name, total, poll_seconds in configurations:
        mode = "inline" if name == "inline" else "batched"
        for writers in (1, 8):
            figures = run(mode, writers, total, poll_seconds=poll_seconds)
            rates[name, writers] = figures["rate"]
            extra = ""
            if "p50" in figures:
                extra = (
                    f"  time to provable p50 {figures['p50']:.0f} ms, p99 {figures['p99']:.0f} ms, "
                    f"max {figures['max']:.0f} ms ({figures['batches']} batches; left for the sweeper: "
                    f"{figures['left']}, unmatched: {figures['missing']})"
                )
            print(f"{name:9s} {writers} writer(s): {figures['rate']:7.0f} appends/s{extra}", flush=True)
    for (name, writers), rate in rates.items():
        if name != "inline":
            print(f"{name} / inline, {writers} writer(s): {rate / rates['inline', writers]:.2f}x")
    report = verify_trail()
    print(f"verify_trail: {report.events:,} events, ok={report.ok}; load average after: {os.getloadavg()}")
    if admin_url:
        connection.close()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")


if __name__ == "__main__":
    main()
