"""Two web nodes and a worker that share only PostgreSQL, Redis and the object store (issue 25, docs/operations.md).

Each web node is gunicorn on a port the OS chose, with a var folder of its own (uploads staged there, its cache of
verified copies); the worker is ``celery worker`` on a queue of this test's own, and one ``celery beat`` sends the
periodic jobs there. A model and a dataset are uploaded
through node A, the audit runs on the worker, the signed report and an evidence bundle are downloaded through node
B, the bundle's verifier and ``verify_trail`` accept the trail, and after node A is killed (SIGKILL: no goodbye)
node B still serves everything and a new audit still runs.

Needs PostgreSQL and Redis (``DATABASE_URL`` and ``ASSAY_TEST_REDIS_URL``, as CI sets them): SQLite is one node's
file. Redis is used on a database number of this test's own (12) and is never flushed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from audits.actions import ensure_builtin_policies
from audits.reports import signing
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.exports.models import Export, Share
from governance.trail.keys import load_signing_key
from tests.conftest import Cast, Member
from tests.data.conftest import make_dataset
from tests.exports.conftest import run_verify, trusted_keys_text
from tests.registry.conftest import register_model
from tests.storage.conftest import ACCESS_KEY, SECRET_KEY, Bucket

REDIS_URL = os.environ.get("ASSAY_TEST_REDIS_URL", "")
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
ROLES = {"label": "credit_risk", "favourable": "1", "protected": ["age_group"], "features": list(DEMO_FEATURES)}
WAIT_SECONDS = 600  # a ceiling for a loaded machine, never a measure of speed

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        not (REDIS_URL and ON_POSTGRES),
        reason="set DATABASE_URL (PostgreSQL) and ASSAY_TEST_REDIS_URL (CI does): nodes share a database server",
    ),
]


def own_redis_db(url: str, number: int = 12) -> str:
    """``url`` on database ``number``: 14 and 15 belong to other tests, and this test never flushes any."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


@dataclass
class Node:
    """A web node: gunicorn serving Assay on ``port``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def call(self, member: Member, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {member.token}", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - http://127.0.0.1 only
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def json(self, member: Member, method: str, path: str, value: Any = None) -> tuple[int, Any]:
        body = None if value is None else json.dumps(value).encode()
        status, content, _ = self.call(member, method, path, body, **{"Content-Type": "application/json"})
        return status, json.loads(content) if content else None

    def upload(self, member: Member, path: str, field: str, filename: str, data: bytes) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, content, _ = self.call(
            member, "POST", path, body, **{"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        return status, json.loads(content)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # the master and its workers, as a lost machine
        self.process.wait(timeout=60)


def until(what: str, ready: Any, *logs: Path) -> Any:
    """Poll ``ready()`` until it returns something true; fail with the processes' logs after ``WAIT_SECONDS``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
    pytest.fail(f"gave up waiting for {what}\n{tails}")


@pytest.fixture
def shared_environment(bucket: Bucket, tmp_path: Path) -> dict[str, str]:
    """What every node is given: the one database, Redis (broker and cache), bucket and key folder."""
    db = connection.settings_dict
    redis = own_redis_db(REDIS_URL)
    # The keys are files mounted the same on every node: created once here, before any node starts.
    load_signing_key()
    signing.signing_certificate_pem()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": redis,
        "JOBS_IN_PROCESS": "0",  # tests.settings runs jobs in process by default; the nodes queue them for the worker
        "CELERY_QUEUE": f"assay-two-nodes-{uuid.uuid4().hex[:12]}",
        "CACHE_URL": redis,
        "STORAGE_URL": bucket.server.storage_url(bucket.name),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "TRAIL_KEY_DIR": str(settings.TRAIL_KEY_DIR),
        "OMP_NUM_THREADS": "1",
    }


def start_web(name: str, environment: dict[str, str], folder: Path) -> Node:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # the OS chooses the port; gunicorn serves the socket it is handed
    listener.listen(64)
    listener.set_inheritable(True)
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "governance.wsgi:application",
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            "2",
            "--timeout",
            "300",
            "--graceful-timeout",
            "30",
        ],
        env={**environment, "ASSAY_VAR_DIR": str(folder / name)},  # nothing of its own is shared
        pass_fds=(listener.fileno(),),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    port = listener.getsockname()[1]
    listener.close()
    node = Node(name=name, port=port, process=process, log=log)
    until(f"{name} to be ready", lambda: _ready(node), log)
    return node


def _ready(node: Node) -> bool:
    if node.process.poll() is not None:
        pytest.fail(f"{node.name} exited: {node.log.read_text(errors='replace')[-3000:]}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.port}/readyz", timeout=10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_worker(environment: dict[str, str], folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / "worker.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "governance",
            "worker",
            "--pool=solo",
            "-Q",
            environment["CELERY_QUEUE"],
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        env={**environment, "ASSAY_VAR_DIR": str(folder / "worker")},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, log


def start_beat(environment: dict[str, str], folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """The one beat of the deployment: it sends the periodic jobs (checkpoints, recoveries) to the same queue."""
    log = folder / "beat.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "governance", "beat", "--schedule", str(folder / "beat-schedule")],
        env={**environment, "ASSAY_VAR_DIR": str(folder / "beat")},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, log


@pytest.fixture
def topology(shared_environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[Node, Node, Path]]:
    worker, worker_log = start_worker(shared_environment, tmp_path)
    beat, _ = start_beat(shared_environment, tmp_path)
    nodes: list[Node] = []
    try:
        nodes.append(start_web("node-a", shared_environment, tmp_path))
        nodes.append(start_web("node-b", shared_environment, tmp_path))
        yield nodes[0], nodes[1], worker_log
    finally:
        for node in nodes:
            if node.process.poll() is None:
                os.killpg(node.process.pid, signal.SIGTERM)  # graceful: gunicorn finishes requests in flight
                node.process.wait(timeout=60)
        beat.send_signal(signal.SIGTERM)
        beat.wait(timeout=60)
        worker.send_signal(signal.SIGTERM)  # warm shutdown: the job in hand is finished (acks late)
        worker.wait(timeout=120)
        # This test's own queue and its bindings only: the database is never flushed.
        queue = shared_environment["CELERY_QUEUE"]
        redis.Redis.from_url(shared_environment["CELERY_BROKER_URL"]).delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def finished_run(node: Node, member: Member, run_id: int) -> Any:
    status, body = node.json(member, "GET", f"/api/v1/audits/{run_id}/")
    assert status == 200, body
    return body if body["status"] in ("done", "error") else None


def finished_export(node: Node, member: Member, export_id: int) -> Any:
    status, body = node.json(member, "GET", f"/api/v1/exports/{export_id}/")
    assert status == 200, body
    return body if body["status"] in ("ready", "error") else None


@pytest.fixture
def trail_emptied_after(unprotected_trail: None) -> Iterator[None]:
    """``unprotected_trail``, with the bundle removed first (a bundle refers to its checkpoint)."""
    yield
    Share.objects.all().delete()
    Export.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_upload_on_one_node_audit_on_the_worker_download_on_the_other(
    trail_emptied_after: None, cast: Cast, bucket: Bucket, topology: tuple[Node, Node, Path]
) -> None:
    node_a, node_b, worker_log = topology
    logs = (node_a.log, node_b.log, worker_log)
    content = german_credit_csv(with_groups=True)
    onnx = train_demo_model(content)
    register_model(cast, "minimal", name="credit-scoring")
    make_dataset(cast, "german")
    ensure_builtin_policies()

    # Uploads through node A: both become objects named by their hash.
    status, version = node_a.upload(cast.owner, "/api/v1/models/credit-scoring/versions/", "artifact", "m.onnx", onnx)
    assert status == 201, version
    status, dataset = node_a.upload(cast.owner, "/api/v1/datasets/german/versions/", "file", "german.csv", content)
    assert status == 201, dataset
    assert bucket.get(f"artifacts/{sha256(onnx)[:2]}/{sha256(onnx)}.onnx") == onnx
    assert bucket.get(f"datasets/{sha256(content)[:2]}/{sha256(content)}.csv") == content

    # The audit is queued through node A and run by the worker; node B sees it finish.
    body = {"model": "credit-scoring", "version": 1, "dataset": "german", "dataset_version": dataset["number"]}
    status, run = node_a.json(
        cast.owner, "POST", "/api/v1/audits/", {**body, "policy": "four-fifths", "column_roles": ROLES}
    )
    assert status == 201, run
    done = until("the audit on the worker", lambda: finished_run(node_b, cast.owner, run["id"]), *logs)
    assert (done["status"], done["verdict"]) == ("done", "fail"), done  # as from local files (test_model_audits)
    assert "Task audits.run_audit" in worker_log.read_text(errors="replace")

    # The signed report, built and downloaded through node B.
    status, report = node_b.json(cast.owner, "POST", f"/api/v1/audits/{run['id']}/reports/")
    assert status == 201, report
    status, pdf, _ = node_b.call(cast.owner, "GET", f"/api/v1/reports/{report['id']}/pdf", Accept="application/pdf")
    assert status == 200
    assert sha256(pdf) == report["sha256"]
    assert signing.validate_pdf(pdf).valid

    # An evidence bundle asked for through node A, built by the worker, downloaded through node B.
    status, export = node_a.json(cast.officer, "POST", "/api/v1/exports/", {"model": "credit-scoring"})
    assert status == 202, export
    ready = until("the bundle", lambda: finished_export(node_b, cast.officer, export["id"]), *logs)
    assert ready["status"] == "ready", ready
    status, bundle, _ = node_b.call(cast.officer, "GET", f"/api/v1/exports/{export['id']}/download")
    assert status == 200
    assert sha256(bundle) == ready["sha256"]
    verdict = run_verify(bundle, "--trusted-keys", "keys.txt", files={"keys.txt": trusted_keys_text().encode()})
    assert verdict.code == 0, verdict.text

    # Node A is lost. Node B still serves every file, and new work still runs.
    node_a.kill()
    status, again, _ = node_b.call(cast.owner, "GET", f"/api/v1/reports/{report['id']}/pdf", Accept="application/pdf")
    assert (status, sha256(again)) == (200, report["sha256"])
    status, again, _ = node_b.call(cast.officer, "GET", f"/api/v1/exports/{export['id']}/download")
    assert (status, sha256(again)) == (200, ready["sha256"])
    status, second = node_b.json(
        cast.owner, "POST", "/api/v1/audits/", {**body, "policy": "four-fifths", "column_roles": ROLES, "force": True}
    )
    assert status in (200, 201), second
    if second["id"] != run["id"]:
        assert until("the second audit", lambda: finished_run(node_b, cast.owner, second["id"]), *logs)["status"] == (
            "done"
        )

    call_command("verify_trail", stdout=open(os.devnull, "w"))  # noqa: SIM115 - raises CommandError when it fails
    call_command("verify_media", stdout=open(os.devnull, "w"))  # noqa: SIM115 - the bucket holds every file
