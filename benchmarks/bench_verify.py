"""verify_trail at scale, this code against an earlier checkout in the same run, and incremental verification.

    git worktree add /tmp/verify-before <commit>            # the code to compare with (optional)
    python benchmarks/bench_verify.py --before /tmp/verify-before              # SQLite, 1,000,000 events
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/bench_verify.py --events 200000 --before /tmp/verify-before

The trail is bulk-loaded once into ``--keep`` (default: a folder under /tmp, reused by later runs of the same size;
on PostgreSQL a database named ``assay_bench_verify_<events>``). Each timing runs ``manage.py verify_trail`` in a
fresh process of the tree being measured (``--before`` or this checkout), against the same rows. Then, on a copy,
10,000 more events are appended and ``verify_trail --incremental`` goes from the checkpoint the full run kept to the
new one. It prints figures and asserts nothing about time (the machine is shared: compare numbers of one run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "benchmarks"))
# The tree being measured comes first, also in the worker processes verify_trail spawns (they run this file's top
# level again, with the environment of the child that set this).
sys.path.insert(0, os.environ.get("BENCH_VERIFY_TREE") or str(HERE))


def _setup_django(tree: Path) -> None:
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()


def child(tree: Path, args: list[str]) -> None:
    """In a fresh process: run ``verify_trail`` from ``tree`` once and print its timing as JSON."""
    os.environ["BENCH_VERIFY_TREE"] = str(tree)
    _setup_django(tree)
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    began = time.perf_counter()
    try:
        call_command("verify_trail", "--json", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    seconds = time.perf_counter() - began
    report = json.loads(out.getvalue() or "{}")
    print(json.dumps({"seconds": seconds, "code": code, "events": report.get("events"), "ok": report.get("ok")}))


def run_child(tree: Path, env: dict[str, str], *args: str) -> dict[str, object]:
    """Time one verify_trail in a new interpreter (no warm caches shared between the trees compared)."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(tree), "--", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"verify_trail in {tree} failed:\n{result.stdout}\n{result.stderr}")
    measured: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def prepare(events: int, keep: Path, database_url: str | None) -> dict[str, str]:
    """The environment of a scratch trail of ``events`` events with a checkpoint at its end (loaded once)."""
    keep.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        DEBUG="1",
        TRAIL_KEY_DIR=str(keep),
        ASSAY_VAR_DIR=str(keep),
        TRAIL_CHECKPOINT_EVERY_EVENTS="100000000",  # the bulk load issues one checkpoint itself, at the end
        DJANGO_SETTINGS_MODULE="governance.settings",
        OMP_NUM_THREADS="1",
    )
    if database_url and database_url.startswith("postgres"):
        env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + f"/assay_bench_verify_{events}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{keep}/trail-{events}.sqlite3"
    marker = keep / f"loaded-{events}-{env['DATABASE_URL'].rsplit('/', 1)[-1]}"
    if not marker.exists():
        if database_url and database_url.startswith("postgres"):
            import psycopg

            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS assay_bench_verify_{events}")
                conn.execute(f"CREATE DATABASE assay_bench_verify_{events}")
        subprocess.run([sys.executable, __file__, "--load", str(events)], env=env, check=True)
        marker.write_text("ok\n")
    return env


def fast_load(target: int) -> float:
    """Grow the trail to ``target`` events with raw batched inserts; returns seconds.

    The rows are exactly what ``record_event`` writes (its ``encode_leaf``, each value through its field's own
    conversion), without the ORM's per-object cost, which made a million-event load take tens of minutes here.
    Events are ``team.created`` with a small payload, one millisecond apart from 2026-01-01.
    """
    import datetime as dt

    from django.db import connection, transaction

    from governance.trail.leaf import encode_leaf
    from governance.trail.log import compact_range, tree_size
    from governance.trail.merkle import leaf_hash
    from governance.trail.models import Event

    began = time.perf_counter()
    fields = list(Event._meta.concrete_fields)
    insert_event = "INSERT INTO governance_event ({}) VALUES ({})".format(
        ", ".join(f'"{field.column}"' for field in fields), ", ".join(["%s"] * len(fields))
    )
    insert_node = 'INSERT INTO governance_merklenode (level, "index", hash) VALUES (%s, %s, %s)'
    size = tree_size()
    edge = compact_range(size)
    prev = bytes(Event.objects.get(seq=size - 1).leaf_hash) if size else b""
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    actor = {"kind": "system", "token": None, "user": None}
    while size < target:
        event_rows: list[list[Any]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        for seq in range(size, min(target, size + 20000)):
            recorded_at = moment + dt.timedelta(milliseconds=seq)
            payload = {"slug": f"bulk-{seq}"}
            leaf = encode_leaf(
                seq=seq,
                prev_hash=prev,
                recorded_at=recorded_at,
                action="team.created",
                actor=actor,
                object_type="bench",
                object_id=str(seq),
                payload=payload,
            )
            digest = leaf_hash(leaf)
            values = {
                "seq": seq,
                "recorded_at": recorded_at,
                "action": "team.created",
                "actor_kind": "system",
                "actor_user_id": None,
                "actor_token_id": None,
                "object_type": "bench",
                "object_id": str(seq),
                "payload": payload,
                "leaf": leaf,
                "leaf_hash": digest,
                "prev_hash": prev,
            }
            event_rows.append([field.get_db_prep_save(values[field.attname], connection) for field in fields])
            node_rows.extend((level, index, node) for (level, index), node in edge.append(digest))
            prev = digest
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(insert_event, event_rows)
            cursor.executemany(insert_node, node_rows)
        size += len(event_rows)
        print(f"  loaded {size:,} events ({time.perf_counter() - began:.0f} s)", end="\r", flush=True)
    print()
    return time.perf_counter() - began


def load(events: int) -> None:
    """In a fresh process: migrate, bulk-load ``events`` events and sign a checkpoint over them."""
    _setup_django(HERE)
    from django.core.management import call_command
    from django.db import connection

    from governance.trail.checkpoints import issue_checkpoint

    call_command("migrate", verbosity=0)
    print(f"bulk-loading {events:,} events into {connection.vendor} ...")
    print(f"bulk load: {fast_load(events):.0f} s")
    issue_checkpoint(reason="bench")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)" if connection.vendor == "sqlite" else "ANALYZE")


def grow(extra: int) -> None:
    """In a fresh process: append ``extra`` events to the scratch trail and sign a checkpoint over them."""
    _setup_django(HERE)
    from governance.trail.checkpoints import issue_checkpoint
    from governance.trail.log import tree_size

    fast_load(tree_size() + extra)
    issue_checkpoint(reason="bench")


def copy_trail(env: dict[str, str], events: int, database_url: str | None) -> dict[str, str]:
    """A copy of the scratch trail to grow (the loaded one stays at ``events`` for the next run)."""
    copy = dict(env)
    if database_url and database_url.startswith("postgres"):
        import psycopg

        name = f"assay_bench_verify_{events}_grown"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE assay_bench_verify_{events}")
        copy["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + name
    else:
        source = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        target = source.with_name(source.stem + "-grown.sqlite3")
        shutil.copyfile(source, target)
        copy["DATABASE_URL"] = f"sqlite:///{target}"
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000, help="events appended for the incremental run")
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with (git worktree)")
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "assay-bench-verify")
    parser.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    parser.add_argument("--prepare-only", action="store_true", help="load the trail and stop")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--grow", type=int, help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rest)
        return
    if args.load:
        load(args.load)
        return
    if args.grow:
        grow(args.grow)
        return
    database_url = os.environ.get("DATABASE_URL")
    env = prepare(args.events, args.keep, database_url)
    if args.prepare_only:
        return
    print(f"database: {env['DATABASE_URL'].split(':', 1)[0]}, {args.events:,} events; load average {_load()}")
    trees = ([("before", args.before)] if args.before else []) + [("after", HERE)]
    timings: dict[tuple[str, str], float] = {}
    for workers in args.workers.split(","):
        for name, tree in trees:
            measured = run_child(tree, env, "--workers", workers)
            timings[name, workers] = float(measured["seconds"])  # type: ignore[arg-type]
            print(
                f"verify_trail, {name:6}, {workers} process(es): {measured['seconds']:6.2f} s "
                f"({float(measured['seconds']) / args.events * 1e6:.1f} us/event), ok={measured['ok']}, "  # type: ignore[arg-type]
                f"load average {_load()}"
            )
        if args.before:
            ratio = timings["before", workers] / timings["after", workers]
            print(f"  before / after with {workers} process(es): {ratio:.2f}x")
    grown = copy_trail(env, args.events, database_url)
    state = args.keep / "verified.note"
    state.unlink(missing_ok=True)
    first = run_child(HERE, grown, "--incremental", "--state", str(state))
    print(f"verify_trail --incremental, first run (a full one, keeps its checkpoint): {first['seconds']:.2f} s")
    subprocess.run([sys.executable, __file__, "--grow", str(args.new)], env=grown, check=True)
    measured = run_child(HERE, grown, "--incremental", "--state", str(state))
    print(
        f"verify_trail --incremental, {args.new:,} new events on top of {args.events:,}: "
        f"{measured['seconds']:.3f} s, ok={measured['ok']}, load average {_load()}"
    )
    full = run_child(HERE, grown, "--workers", "2")
    ratio = float(full["seconds"]) / float(measured["seconds"])  # type: ignore[arg-type]
    print(f"  the same trail verified in full: {full['seconds']:.2f} s (full / incremental {ratio:.0f}x)")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
