"""Approval-gate decision latency for an already-audited, approved version: 1, 10 and 50 concurrent clients on
loopback, against gunicorn and PostgreSQL (target: p99 under 100 ms at 50 clients, no errors).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/bench_gate.py
    python benchmarks/bench_gate.py --requests 200          # SQLite, for a quick look
    ... bench_gate.py --clients 50 --repeat 3 --json        # 50 clients only, 3 rounds, a JSON line at the end

On PostgreSQL the gate's rows also say what the trail's lock costs: pg_stat_activity and pg_locks, sampled every
20 ms while the gate is measured, give the share of samples in which a decision held the trail's advisory lock,
how many workers waited for it on average, and what the holder was doing (its commit's WAL flush, or waiting for
the Python side to send the next statement).

A scratch database (assay_bench_gate on PostgreSQL, ``--database`` to name another) is created and dropped here.
Every decision is a real one: it reads the audit and the approvals, signs a pass token and appends a trail event.
Prints p50/p99 per concurrency; asserts nothing about time. ``--profile N`` instead runs N decisions in this process
under cProfile and prints where a decision's time goes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GATE = "/api/v1/gates/check"
sys.path.insert(0, str(ROOT))


def configure(
    database_url: str | None, cache_url: str = "", name: str = "assay_bench_gate"
) -> tuple[dict[str, str], str | None]:
    """Environment for both this process and gunicorn, pointing at a scratch database."""
    import secrets

    scratch = tempfile.mkdtemp(prefix="assay-bench-gate-")
    key_file = Path(scratch) / "trail.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key_file.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    # Production settings (DEBUG off: no query logging), served over plain HTTP on loopback.
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "TRAIL_SIGNING_KEY_FILE": str(key_file),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "TRAIL_KEY_DIR": scratch,
        "ASSAY_VAR_DIR": scratch,
        "AUDIT_REQUIRED_POLICIES": "high=four-fifths",
        "GATE_RATE": "1000000/minute",
        "API_USER_RATE": "1000000/minute",
        "LOG_LEVEL": "WARNING",
        # As in production (check --deploy asks for it): rate-limit counts in a cache all workers share.
        "CACHE_URL": cache_url,
    }
    admin_url = None
    if database_url and database_url.startswith("postgres"):
        import psycopg

        admin_url = database_url
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + name
    else:
        env["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env, admin_url


def arrange() -> str:
    """A high-risk model whose version passed four-fifths and has two approvals; returns a CI token."""
    from audits import actions as audits
    from audits.models import Policy
    from governance.access.actions import do_create_user, do_issue_token
    from governance.data import actions as data
    from governance.trail.log import Actor
    from registry import actions as registry

    actor = Actor.system()
    owner = do_create_user(username="owner", role="owner", teams=["risk"], actor=actor)
    reviewer = do_create_user(username="reviewer", role="reviewer", teams=["risk"], actor=actor)
    officer = do_create_user(username="officer", role="officer", teams=[], actor=actor)
    ci = do_create_user(username="ci", role="ci", teams=[], actor=actor)
    team = owner.teams.get()
    path = Path(tempfile.mkdtemp()) / "decisions.csv"
    rows = ["sex,label,prediction"] + [f"{'fm'[i % 2]},{i % 3 % 2},{1 if i % 5 < 3 else 0}" for i in range(2000)]
    path.write_text("\n".join(rows) + "\n")
    dataset = data.do_register_dataset(user=owner, actor=actor, name="decisions", team=team)
    dataset_version = data.do_register_dataset_version(
        dataset=dataset, user=owner, actor=actor, file_path=path, file_name="decisions.csv"
    )
    answers = {
        "prohibited_practice": "none",
        "annex_iii_area": "essential_services",
        "profiles_natural_persons": True,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    }
    model = registry.do_register_model(
        user=owner, actor=actor, name="credit-scoring", team=team, purpose="bench", risk_answers=answers
    )
    version = registry.do_register_version(model=model, user=owner, actor=actor)
    audits.ensure_builtin_policies()
    policy_version = Policy.objects.get(name="four-fifths").latest_version()
    assert policy_version is not None
    run, _ = audits.do_start_audit(
        user=owner,
        actor=actor,
        model_version=version,
        dataset_version=dataset_version,
        policy_version=policy_version,
        column_roles={"label": "label", "prediction": "prediction", "protected": ["sex"]},
    )
    run = audits.execute_audit(run.pk) if run.status == "queued" else run
    run.refresh_from_db()
    assert run.verdict == "pass", (run.status, run.verdict, run.verdict_reasons, run.error)
    registry.do_submit(version=version, user=owner, actor=actor)
    registry.do_approve(version=version, user=reviewer, actor=actor)
    registry.do_approve(version=version, user=officer, actor=actor)
    return do_issue_token(user=ci, actor=actor, days=1).raw


def client_loop(
    port: int, token: str, count: int, latencies: list[float], errors: list[str], *, floor: bool = False
) -> None:
    """``count`` requests back to back on one keep-alive connection (reopened when the server closes it).

    ``floor`` asks ``GET /api/v1/me`` instead: the cheapest authenticated API request, measured in the same run as
    the gate so that the ratio between the two says what the gate itself costs on this machine.
    """
    body = json.dumps({"model": "credit-scoring", "version": 1, "environment": "production"})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    method, path, expected = ("GET", "/api/v1/me", b'"username"') if floor else ("POST", GATE, b'"decision":"pass"')
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        began = time.perf_counter()
        try:
            connection.request(method, path, body=None if floor else body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200 or expected not in answer:
                errors.append(f"{response.status} {answer[:120]!r}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - began)
    connection.close()


def measure(port: int, token: str, clients: int, total: int, floor: bool) -> str:
    """One row of the table: ``total`` requests spread over ``clients`` concurrent clients."""
    latencies: list[float] = []
    errors: list[str] = []
    each = max(1, total // clients)
    threads = [
        threading.Thread(target=client_loop, args=(port, token, each, latencies, errors), kwargs={"floor": floor})
        for _ in range(clients)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    row = (
        f"{'GET /me' if floor else 'gate':>8} {clients:>8} {statistics.median(ordered) * 1000:>8.1f} "
        f"{p99 * 1000:>8.1f} {ordered[-1] * 1000:>8.1f} {len(ordered) / elapsed:>8.0f} {len(errors):>7}"
    )
    return row + (f"\n   first error: {errors[0]}" if errors else "")


def measure_ab(port: int, token: str, clients: int, total: int, *, floor: bool) -> str:
    """The same row, measured by ApacheBench (C, one process): on two shared cores the Python client's own threads
    take CPU from the server, and ab takes far less. Percentiles are ab's, in whole milliseconds."""
    url = f"http://127.0.0.1:{port}{'/api/v1/me' if floor else GATE}"
    command = ["ab", "-q", "-n", str(total), "-c", str(clients), "-H", f"Authorization: Bearer {token}"]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as body:
        if not floor:
            body.write(json.dumps({"model": "credit-scoring", "version": 1, "environment": "production"}))
            body.flush()
            command += ["-p", body.name, "-T", "application/json"]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def number(pattern: str, default: float = float("nan")) -> float:
        found = re.search(pattern, output, re.MULTILINE)
        return float(found.group(1)) if found else default

    # ab counts a body whose length differs from the first as failed; every pass token differs, so only refused
    # connections, broken responses and non-2xx answers are errors here.
    broken = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", output)
    errors = sum(int(n) for n in broken.groups()) if broken else 0
    errors += int(number(r"^Non-2xx responses:\s+(\d+)", 0))
    p50, p99, slowest = (number(rf"^\s+{share}%\s+(\d+)") for share in (50, 99, 100))
    rate = number(r"^Requests per second:\s+([\d.]+)")
    label = "GET /me" if floor else "gate"
    return f"{label:>8} {clients:>8} {p50:>8.0f} {p99:>8.0f} {slowest:>8.0f} {rate:>8.0f} {errors:>7}"


# Where a decision's time goes, by the functions that stand for each part of a request (their cumulative time; the
# parts nest: "the gate's decision" holds its reads, its token and its trail event).
PROFILE_PARTS = (
    ("whole request (Django's handler)", "django/core/handlers/base.py", "get_response"),
    ("authentication (token lookup)", "governance/access/authentication.py", "authenticate"),
    ("throttling (cache)", "rest_framework/views.py", "check_throttles"),
    ("request body parsing and validation", "governance/web/api/fields.py", "validated"),
    ("the version asked about", "audits/api/gate.py", "_version"),
    ("the gate's decision", "audits/gate/decisions.py", "decide"),
    ("  its reads (one query)", "audits/gate/reads.py", "decision_reads"),
    ("  the run's facts", "audits/gate/decisions.py", "_run_facts"),
    ("  signing the token", "audits/gate/decisions.py", "_token"),
    ("  recording it in the trail", "audits/gate/decisions.py", "_record"),
    ("    the trail's append", "governance/trail/log.py", "record_event"),
    ("response rendering (JSON)", "rest_framework/response.py", "rendered_content"),
    ("all SQL statements (execute)", "django/db/backends/utils.py", "_execute"),
    ("ORM query compilation", "django/db/models/sql/compiler.py", "as_sql"),
    ("commits", "django/db/backends/base/base.py", "commit"),
)


def profile(token: str, count: int) -> None:
    """``count`` pass decisions through Django's test client in this process under cProfile: where the time goes,
    per decision, by part (PROFILE_PARTS), then the 25 functions with the most time of their own."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client

    client = Client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "credit-scoring", "version": 1, "environment": "production"}

    def decide() -> None:
        response = client.post(GATE, body, content_type="application/json", headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"the gate answered {response.status_code}: {response.content[:300]!r}")

    for _ in range(20):  # warm: caches, the key's publication, connections
        decide()
    statements: list[str] = []

    def note(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(" ".join(sql.split())[:70])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        decide()
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        decide()
    profiler.disable()
    wall = (time.perf_counter() - began) / count
    stats = pstats.Stats(profiler)
    print(f"{count} decisions in one process, {connection.vendor}: {wall * 1000:.1f} ms each under the profiler")
    print(f"{len(statements)} SQL statements a decision:", *statements, sep="\n  ")
    print(f"{'part':<40} {'ms per decision':>16} {'share':>6}")
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table in this attribute
    whole = None
    for label, path, name in PROFILE_PARTS:
        cumulative = sum(
            row[3] for (file, _, function), row in table.items() if file.endswith(path) and function == name
        )
        whole = whole or cumulative
        print(f"{label:<40} {cumulative / count * 1000:>16.2f} {cumulative / max(whole, 1e-9):>6.0%}")
    stats.sort_stats("tottime").print_stats(25)


class LockSampler(threading.Thread):
    """Samples, every 20 ms, which server processes of the benchmark's database hold or wait for an advisory lock
    (the trail's lock, governance.trail.log.lock_trail) and what the holder waits on."""

    SQL = (
        "SELECT a.pid, a.wait_event_type, a.wait_event, l.granted FROM pg_stat_activity a "
        "LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' "
        "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state = 'active'"
    )

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.samples: list[list[tuple[Any, ...]]] = []

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                self.samples.append(conn.execute(self.SQL).fetchall())

    def summary(self) -> dict[str, float]:
        """Share of samples with the lock held; mean processes waiting for it; the holder's waits, by share."""
        count = max(1, len(self.samples))
        held = [next((r for r in rows if r[3] is True), None) for rows in self.samples]
        holding = [h for h in held if h is not None]
        waiting = sum(sum(1 for r in rows if r[3] is False) for rows in self.samples)

        def share(event: str) -> float:
            return sum(1 for h in holding if h[2] == event) / max(1, len(holding))

        return {
            "samples": len(self.samples),
            "lock_held_share": len(holding) / count,
            "mean_waiting_for_lock": waiting / count,
            "holder_in_wal_flush_share": sum(1 for h in holding if h[1] == "IO" and str(h[2]).startswith("WAL"))
            / max(1, len(holding)),
            "holder_waiting_for_client_share": share("ClientRead"),
        }


def _answers(url: str) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _parsed(line: str, request: str) -> dict[str, Any]:
    """A printed row as numbers: clients, p50, p99, max (ms), requests per second, errors."""
    fields = line.split("\n", maxsplit=1)[0].split()[-6:]
    clients, p50, p99, slowest, rate, errors = (float(f) for f in fields)
    return {
        "request": request,
        "clients": int(clients),
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": slowest,
        "per_s": rate,
        "errors": int(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="decisions per concurrency level")
    # Three single-threaded workers on two cores measured best here (4x4 threads and 2x8 lost to the GIL).
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--cache-url", default="redis://127.0.0.1:6379/14", help="shared cache for rate limits ('' for local memory)"
    )
    parser.add_argument(
        "--client",
        choices=("python", "ab"),
        default="ab" if shutil.which("ab") else "python",
        help="load generator: ApacheBench (Debian's apache2-utils) when installed, else Python threads",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the GET /api/v1/me rows")
    parser.add_argument("--clients", default="1,10,50", help="concurrency levels, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every level (gate and GET /me alternate)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of every row (benchmarks/run_all)")
    parser.add_argument(
        "--sequencing",
        default="env",
        help="trail arrangements, comma-separated, alternating each round: env (TRAIL_SEQUENCING as set), inline, "
        "batched, dedicated (batched; writers only queue, a stand-in sequencer process sequences), live (batched, with "
        "manage.py sequence_trail --follow), live-wait (live, the gate waiting for its decision's seq)",
    )
    parser.add_argument("--database", default="assay_bench_gate", help="the scratch database's name (PostgreSQL)")
    parser.add_argument(
        "--profile", type=int, metavar="N", help="instead: N decisions in this process under cProfile, then a summary"
    )
    args = parser.parse_args()
    if set(args.sequencing.split(",")) - {"env", *ARRANGEMENTS}:
        parser.error(f"--sequencing {args.sequencing!r}: see --help")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database):
        parser.error(f"--database {args.database!r}: lower-case letters, digits and _ only")
    if args.cache_url and not _answers(args.cache_url):
        print(f"note: no cache server answers at {args.cache_url}; rate limits counted in local memory instead")
        args.cache_url = ""
    env, admin_url = configure(os.environ.get("DATABASE_URL"), args.cache_url, args.database)
    token = arrange()
    if args.profile:
        try:
            profile(token, args.profile)
        finally:
            drop(admin_url, args.database)
    else:
        serve_and_measure(args, env, admin_url, token)


# Trail sequencing arrangements (--sequencing): the server's TRAIL_SEQUENCING; "dedicated": a stand-in written before
# the project's own sequencer (a gunicorn hook empties the after-commit listeners; a process of its own polls the
# queue, backing off to 100 ms while it stays empty, so GET /me is not slowed).
# "live" is the project's own dedicated sequencer (manage.py sequence_trail --follow): writers see it and only queue.
# "live-wait": the same, and the gate waits for its decision's seq before answering (decisions.ANSWER_WHEN_QUEUED).
ARRANGEMENTS = {
    "inline": "inline",
    "batched": "batched",
    "dedicated": "batched",
    "live": "batched",
    "live-wait": "batched",
}
_GATE_WAITS = """
def post_worker_init(worker):
    from audits.gate import decisions

    decisions.ANSWER_WHEN_QUEUED = False
"""
_WRITERS_ONLY_QUEUE = """
def post_worker_init(worker):
    from governance.trail import log

    log._queue_listeners.clear()
"""
_SEQUENCER = """
import time

import django

django.setup()
from governance.trail import sequencer

pause = 0.005
while True:
    if sequencer.pending_exists() and sequencer.sequence_all():
        pause = 0.005
    else:
        time.sleep(pause)
        pause = min(0.1, pause * 2)
"""


def start_server(args: argparse.Namespace, env: dict[str, str], arrangement: str) -> list[subprocess.Popen[bytes]]:
    """gunicorn (and, for ``dedicated``, the sequencer's process) serving the scratch database; once it listens."""
    environment = {**os.environ, **env, "OMP_NUM_THREADS": "1"}
    if arrangement != "env":
        environment["TRAIL_SEQUENCING"] = ARRANGEMENTS[arrangement]
    command = [sys.executable, "-m", "gunicorn", "governance.wsgi", "--bind", f"127.0.0.1:{args.port}"]
    command += ["--workers", str(args.workers), "--threads", str(args.threads), "--log-level", "warning"]
    processes = []
    if arrangement == "dedicated":
        hooks = Path(env["ASSAY_VAR_DIR"]) / "gunicorn_hooks.py"
        hooks.write_text(_WRITERS_ONLY_QUEUE)
        command += ["--config", str(hooks)]
        processes.append(subprocess.Popen([sys.executable, "-c", _SEQUENCER], cwd=ROOT, env=environment))
    if arrangement == "live-wait":
        hooks = Path(env["ASSAY_VAR_DIR"]) / "gunicorn_gate_waits.py"
        hooks.write_text(_GATE_WAITS)
        command += ["--config", str(hooks)]
    if arrangement in ("live", "live-wait"):
        follow = [sys.executable, "manage.py", "sequence_trail", "--follow"]
        processes.append(subprocess.Popen(follow, cwd=ROOT, env=environment))
    processes.append(subprocess.Popen(command, cwd=ROOT, env=environment))
    for _ in range(300):  # wait for gunicorn to listen
        try:
            http.client.HTTPConnection("127.0.0.1", args.port, timeout=1).request("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def serve_and_measure(args: argparse.Namespace, env: dict[str, str], admin_url: str | None, token: str) -> None:
    """Measure every row, each arrangement on a server of its own (rounds alternate arrangements); drops the
    database after."""
    from django.db import connection, connections

    vendor = connection.vendor
    connections.close_all()
    arrangements = args.sequencing.split(",")
    print(
        f"client: {args.client}; database: {vendor}; cache: {args.cache_url or 'local memory'}; "
        f"gunicorn {args.workers} workers x {args.threads} threads; {args.requests} requests per row; "
        f"sequencing: {', '.join(arrangements)}"
    )
    print(f"{'request':>18} {'clients':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'per s':>8} {'errors':>7}")
    row = measure_ab if args.client == "ab" else measure
    rows: list[dict[str, Any]] = []
    try:
        for round_number in range(args.repeat):
            for arrangement in arrangements:
                processes = start_server(args, env, arrangement)
                try:
                    client_loop(args.port, token, 20, [], [])
                    client_loop(args.port, token, 20, [], [], floor=True)
                    for clients in [int(c) for c in args.clients.split(",")]:
                        for floor in (False, True)[: 1 if args.no_floor else 2]:
                            sampler = LockSampler(env["DATABASE_URL"]) if vendor == "postgresql" and not floor else None
                            if sampler:
                                sampler.start()
                            line = row(args.port, token, clients, args.requests, floor=floor)
                            lock = None
                            if sampler:
                                sampler.stop.set()
                                sampler.join()
                                lock = sampler.summary()
                            label = ("GET /me" if floor else "gate") + (
                                "" if arrangement == "env" else f" {arrangement}"
                            )
                            print(f"{label:>18}{line[8:]}", flush=True)
                            if lock:
                                print(
                                    f"   trail lock: held in {lock['lock_held_share']:.0%} of {lock['samples']} "
                                    f"samples, {lock['mean_waiting_for_lock']:.2f} workers waiting on average; the "
                                    f"holder flushing WAL {lock['holder_in_wal_flush_share']:.0%}, waiting for its "
                                    f"client (Python) {lock['holder_waiting_for_client_share']:.0%} of the time",
                                    flush=True,
                                )
                            parsed = _parsed(line, "me" if floor else "gate")
                            rows.append(
                                {"round": round_number, "sequencing": arrangement, **parsed, "trail_lock": lock}
                            )
                finally:
                    stop(processes)
                print(f"   {arrangement}: {trail_state()}", flush=True)
        summarise(rows)
        if args.json:
            print(json.dumps({"benchmark": "gate", "database": vendor, "client": args.client, "rows": rows}))
    finally:
        drop(admin_url, args.database)


def trail_state() -> str:
    """How many decisions the trail holds and how many the queue holds not yet sequenced (batched arrangements)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM governance_event WHERE action = 'gate.decided'")
        (decided,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM governance_queuedevent WHERE seq IS NULL")
        (waiting,) = cursor.fetchone()
    connection.close()
    return f"{decided} gate decisions in the trail so far, {waiting} events queued and not sequenced"


def summarise(rows: list[dict[str, Any]]) -> None:
    """Per arrangement and concurrency: the gate's p99 over GET /me's, of each round and their median."""
    ratios: dict[tuple[str, int], list[float]] = {}
    for gate in rows:
        me = next(
            (
                r
                for r in rows
                if r["request"] == "me"
                and (r["round"], r["sequencing"], r["clients"]) == (gate["round"], gate["sequencing"], gate["clients"])
            ),
            None,
        )
        if gate["request"] == "gate" and me and me["p99_ms"]:
            ratios.setdefault((gate["sequencing"], gate["clients"]), []).append(gate["p99_ms"] / me["p99_ms"])
    for (arrangement, clients), found in ratios.items():
        each = ", ".join(f"{r:.2f}" for r in found)
        print(f"p99 gate / GET /me, {arrangement}, {clients} clients: {each} (median {statistics.median(found):.2f})")


def drop(admin_url: str | None, name: str) -> None:
    """Drop the scratch database (PostgreSQL; SQLite's lives in a temporary folder)."""
    if admin_url:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
