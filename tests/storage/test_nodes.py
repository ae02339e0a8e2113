"""Several nodes: the deploy check names what would stay on one node, and each role has a readiness probe."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.storage.conftest import Bucket
from tests.test_settings_env import check_ids, run_manage, trail_key_file  # noqa: F401 - a fixture

NODE_CHECKS = ("assay.W020", "assay.W021", "assay.W022", "assay.W023", "assay.W024", "assay.W025")


def node_ids(result: Any) -> list[str]:
    return sorted(i for i in check_ids(result) if i in NODE_CHECKS)


def test_a_single_machine_deploy_check_is_unchanged(tmp_path: Path, trail_key_file: Path) -> None:  # noqa: F811
    assert node_ids(run_manage(tmp_path, trail_key_file)) == []


def test_several_nodes_name_every_setting_that_keeps_state_on_one_node(
    tmp_path: Path,
    trail_key_file: Path,  # noqa: F811
) -> None:
    result = run_manage(
        tmp_path,
        trail_key_file,
        SEVERAL_NODES="1",
        CACHE_URL=None,
        TRAIL_SIGNING_KEY_FILE=None,
        TRAIL_ALLOW_GENERATED_KEY="1",
    )
    assert node_ids(result) == list(NODE_CHECKS), result.stdout + result.stderr[-2000:]
    assert result.returncode != 0  # --fail-level WARNING


def test_a_shared_deployment_passes_the_deploy_check(tmp_path: Path, trail_key_file: Path) -> None:  # noqa: F811
    """Bucket, Redis, PostgreSQL and mounted keys: nothing stays on one node (this check connects to none of them;
    the trail's own checks, which do, fail to reach the made-up database host and are not this test's)."""
    key, cert = tmp_path / "report.key", tmp_path / "report.pem"
    result = run_manage(
        tmp_path,
        trail_key_file,
        STORAGE_URL="s3://assay-media/prod?endpoint=https://minio.internal:9000&region=eu-west-1",
        DATABASE_URL="postgres://assay@db.internal:5432/assay",
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        REPORT_SIGNING_KEY_FILE=str(key),
        REPORT_SIGNING_CERT_FILE=str(cert),
    )
    assert node_ids(result) == [], result.stdout + result.stderr[-2000:]


@pytest.mark.django_db
def test_a_web_node_is_ready_when_it_reaches_every_shared_service(client: Any, bucket: Bucket) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "role": "web",
        "database": "ok",
        "cache": "ok",
        "storage": "ok",
        "broker": "ok",
    }
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_a_node_whose_bucket_is_gone_is_not_ready(client: Any, bucket: Bucket) -> None:
    bucket.server.client().delete_bucket(Bucket=bucket.name)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["storage"] == "unreachable"
    assert response.json()["status"] == "error"

    out = io.StringIO()
    with pytest.raises(CommandError, match="not ready: storage unreachable"):
        call_command("ready", "--role", "worker", stdout=out)
    assert json.loads(out.getvalue())["storage"] == "unreachable"


@pytest.mark.django_db
def test_a_worker_is_ready_on_local_files() -> None:
    out = io.StringIO()
    call_command("ready", "--role", "worker", stdout=out)
    assert json.loads(out.getvalue()) == {
        "role": "worker",
        "database": "ok",
        "cache": "ok",
        "storage": "ok",
        "broker": "ok",
    }
