"""Memory of a web node while a large dataset is uploaded into an S3-protocol bucket (issue 25).

    python benchmarks/bench_storage_memory.py                   # a 1 GiB CSV
    python benchmarks/bench_storage_memory.py --size-mb 256

moto's standalone S3 server (tests/storage/conftest.py) is the bucket. Two measures, one run:

- storage alone, in a fresh process: the peak resident memory (VmHWM) added by ``store_by_hash`` sending the file
  to the bucket (multipart), ``open_stream`` reading it back and hashing it, and ``local_path`` making the node's
  verified copy; each against the process's peak before it;
- the whole upload through a web node: gunicorn (one sync worker) with ``STORAGE_URL``; the file is POSTed to
  ``/api/v1/datasets/<name>/versions/`` by a client that streams it, and the worker's peak resident memory is read
  before and after. That request also parses, profiles and indexes the dataset (governance.data.ingest), so it
  measures that work too, not only the storage.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.storage.conftest import ACCESS_KEY, SECRET_KEY, start_s3_server, stop_s3_server  # noqa: E402


def peak_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def write_csv(path: Path, size_mb: int) -> None:
    """A credit-like table of about ``size_mb`` MiB: few distinct subject ids per MiB is not the point here."""
    block = "".join(
        f"S{i:09d},{18 + i % 60},{20000 + (i * 37) % 90000},{('car', 'rent', 'education')[i % 3]},{i % 2}\n"
        for i in range(20000)
    )
    with path.open("w") as out:
        out.write("subject_id,age,income,purpose,label\n")
        written, n = 0, 0
        while written < size_mb * 1024 * 1024:
            chunk = block.replace("S0", f"S{n % 10}")  # not the same rows over and over
            out.write(chunk)
            written += len(chunk)
            n += 1


_STORAGE_ONLY = """
import hashlib, sys, time
from pathlib import Path
import django
django.setup()
sys.path.insert(0, {root!r})
from benchmarks.bench_storage_memory import peak_mb
from governance.data.ingest import hash_file
from governance.storage import local_path, open_stream, store_by_hash
path = Path({path!r})
sha256, _ = hash_file(path)


def report(label, before, began):
    now = peak_mb()
    took = time.perf_counter() - began
    print(f"  {{label:<36}} peak {{now:7.1f}} MiB (+{{now - before:6.1f}} over {{before:6.1f}}) {{took:6.1f}} s")


name = f"datasets/{{sha256[:2]}}/{{sha256}}.csv"
before, began = peak_mb(), time.perf_counter()
if {phase!r} == "store":
    store_by_hash(path, folder="datasets", sha256=sha256, suffix=".csv")
    report("store_by_hash (multipart upload)", before, began)
elif {phase!r} == "stream":
    digest = hashlib.sha256()
    with open_stream(name) as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    assert digest.hexdigest() == sha256
    report("open_stream, read and hash", before, began)
else:
    local_path(name, sha256=sha256)
    report("local_path (verified copy)", before, began)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--node-only", action="store_true", help="only the upload through a web node")
    parser.add_argument("--local", action="store_true", help="the node stores on its disk (no STORAGE_URL)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="assay-bench-storage-"))
    server = start_s3_server()
    try:
        bucket = server.new_bucket()
        env = {
            **os.environ,
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "governance.settings",
            "ASSAY_VAR_DIR": str(scratch / "var"),
            "TRAIL_KEY_DIR": str(scratch / "keys"),
            "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "STORAGE_URL": server.storage_url(bucket),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "DATASET_MAX_BYTES": str((args.size_mb + 64) * 1024 * 1024),
            "OMP_NUM_THREADS": "1",
        }
        data = scratch / "big.csv"
        write_csv(data, args.size_mb)
        size = data.stat().st_size
        print(f"file: {size / 2**20:.0f} MiB, bucket on moto at {server.endpoint}")

        print("storage alone (fresh process):")
        for phase in () if args.node_only else ("store", "stream", "copy"):  # each in a fresh process: its own peak
            script = _STORAGE_ONLY.format(root=str(ROOT), path=str(data), phase=phase)
            subprocess.run([sys.executable, "-c", script], env=env, check=True)

        print("the whole upload through a web node (gunicorn, one sync worker):")
        env["STORAGE_URL"] = server.storage_url(server.new_bucket())  # empty: the file is sent again
        if args.local:
            del env["STORAGE_URL"]
            env["MEDIA_ROOT"] = str(scratch / "media")
        token = _arrange(env)
        node_peak = _upload_through_node(env, scratch, data, token)
        print(node_peak)
    finally:
        stop_s3_server(server)


def _arrange(env: dict[str, str]) -> str:
    """Migrate the scratch database and make an owner, their token and the dataset; returns the token."""
    script = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import Team
from governance.data.actions import do_register_dataset
from governance.trail.log import Actor
user = do_create_user(username="omar", role="owner", teams=["credit-risk"], password=None, actor=Actor.system())
token = do_issue_token(user=user, actor=Actor.system(), read_only=False, days=1)
do_register_dataset(user=user, actor=Actor.for_user(user), name="big", team=Team.objects.get(slug="credit-risk"),
                    description="benchmark")
print(token.raw)
"""
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def _upload_through_node(env: dict[str, str], scratch: Path, data: Path, token: str) -> str:
    port = 18000 + os.getpid() % 1000
    log = (scratch / "node.log").open("wb")
    node = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "governance.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "3600",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        worker = _wait_ready(node, port)
        before = peak_mb(worker)
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            with data.open("rb") as handle:
                yield from iter(lambda: handle.read(1 << 20), b"")
            yield tail

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        began = time.perf_counter()
        connection.request(
            "POST",
            "/api/v1/datasets/big/versions/",
            body=body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + data.stat().st_size + len(tail)),
            },
        )
        response = connection.getresponse()
        answer = response.read()
        elapsed = time.perf_counter() - began
        status = f"HTTP {response.status}"
        if response.status == 201:
            status += f" rows {json.loads(answer).get('row_count')}"
        elif response.status != 202:
            status += f" {answer[:300]!r}"
        lines = [
            f"  web node peak {peak_mb(worker):7.1f} MiB (+{peak_mb(worker) - before:6.1f} over {before:6.1f} "
            f"after start-up and one request) {elapsed:6.1f} s, {status}"
        ]
        if response.status == 202:  # stored and queued: a job worker profiles it (the web node is done)
            lines.append(_profile_in_worker(env, scratch, port, token, json.loads(answer)["location"]))
        return "\n".join(lines)
    finally:
        node.terminate()
        node.wait(timeout=60)


def _profile_in_worker(env: dict[str, str], scratch: Path, port: int, token: str, location: str) -> str:
    """Start a Celery worker (solo pool: the job runs in the process measured) and wait for the upload's end."""
    log = (scratch / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "governance", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    began = time.perf_counter()
    try:
        for _ in range(7200):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", location, headers={"Authorization": f"Bearer {token}"})
            polled = connection.getresponse()
            raw = polled.read()
            if polled.status != 200:
                raise RuntimeError(f"polling {location}: HTTP {polled.status} {raw[:300]!r}")
            body = json.loads(raw)
            if body["status"] in ("done", "refused"):
                peak = peak_mb(worker.pid)
                return (
                    f"  job worker peak {peak:7.1f} MiB {time.perf_counter() - began:6.1f} s (from its start), "
                    f"upload {body['status']} {body['error'][:200]} version {body['version']}"
                )
            time.sleep(1)
        return "  the job worker did not finish in two hours"
    finally:
        worker.kill()  # the solo pool would finish a job in hand first
        worker.wait(timeout=60)


def _wait_ready(node: subprocess.Popen[bytes], port: int) -> int:
    """Wait for /readyz, then return the pid of gunicorn's worker (the master's only child)."""
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                children = Path(f"/proc/{node.pid}/task/{node.pid}/children").read_text().split()
                return int(children[0])
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the node did not become ready")


if __name__ == "__main__":
    main()
