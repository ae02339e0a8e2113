"""Files in an S3-protocol bucket (STORAGE_URL): uploads become objects named by their hash, audits read them back
checked by hash, reports and bundles are downloaded from the bucket, verify_media looks at the bucket, and an
object altered behind Assay's back is caught by its hash. The bucket is moto's server (see conftest.py)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from audits import actions as audits
from audits.models import Policy
from governance.api import exports as exports_api
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.storage import StoredFileError, local_path, open_stream, store_by_hash
from governance.storage_config import S3_BACKEND, s3_storage
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.exports.conftest import arrange_evidence, post_export
from tests.registry.conftest import register_model
from tests.storage.conftest import Bucket

API = "/api/v1"
ROLES = {"label": "credit_risk", "favourable": "1", "protected": ["age_group"], "features": list(DEMO_FEATURES)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_media() -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.suppress(CommandError):  # exit 1 when something is missing or altered: the JSON says what
        call_command("verify_media", "--json", stdout=out)
    return dict(json.loads(out.getvalue()))


# --- STORAGE_URL ---------------------------------------------------------------------------------------------


def test_a_storage_url_names_the_bucket_prefix_endpoint_and_region() -> None:
    entry = s3_storage(
        "s3://media-bucket/assay/prod?endpoint=https://minio.internal:9000&region=eu-west-1&addressing=path",
        spool_bytes=4096,
    )
    assert entry["BACKEND"] == S3_BACKEND
    options = entry["OPTIONS"]
    assert {k: options[k] for k in ("bucket_name", "location", "endpoint_url", "region_name", "addressing_style")} == {
        "bucket_name": "media-bucket",
        "location": "assay/prod",
        "endpoint_url": "https://minio.internal:9000",
        "region_name": "eu-west-1",
        "addressing_style": "path",
    }
    assert options["file_overwrite"] is True  # content-addressed names are kept as given
    assert options["querystring_expire"] == 300
    assert options["default_acl"] is None
    assert "access_key" not in options  # boto3's own chain (environment, instance role)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://key:secret@bucket", "must not hold credentials"),
        ("https://bucket.example", "only s3://"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket?endpoint=http://x&colour=blue", "unknown option(s) colour"),
        ("s3://bucket?addressing=sideways", "not 'path' or 'virtual'"),
        ("s3://bucket?expiry=soon", "not a number of seconds"),
    ],
)
def test_a_bad_storage_url_is_refused_at_start_up(url: str, says: str) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        s3_storage(url, spool_bytes=0)
    assert says in str(refused.value)


def test_half_a_key_pair_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        s3_storage("s3://bucket", access_key="only-this", spool_bytes=0)


# --- uploads, audits, downloads --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_uploaded_model_and_dataset_are_objects_the_audit_reads_back(
    cast: Cast, bucket: Bucket, settings: Any
) -> None:
    content = german_credit_csv(with_groups=True)
    onnx = train_demo_model(content)
    register_model(cast, "minimal", name="credit-scoring")
    response = cast.owner.client().post(
        f"{API}/models/credit-scoring/versions/",
        {"artifact": SimpleUploadedFile("scorer.onnx", onnx, content_type="application/octet-stream")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["artifact_sha256"] == sha256(onnx)
    dataset_version = make_file_version(cast, make_dataset(cast, "german"), content, name="german.csv")

    artifact_name = f"artifacts/{sha256(onnx)[:2]}/{sha256(onnx)}.onnx"
    dataset_name = f"datasets/{sha256(content)[:2]}/{sha256(content)}.csv"
    assert bucket.get(artifact_name) == onnx
    assert bucket.get(dataset_name) == content
    assert not Path(settings.MEDIA_ROOT).exists()  # nothing on this node's disk

    audits.ensure_builtin_policies()
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=ModelVersion.objects.get(model__name="credit-scoring", number=1),
        dataset_version=dataset_version,
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=ROLES,
    )
    run = audits.execute_audit(run.pk)
    # The same verdict as from local files (tests/audits/test_model_audits.py): the demo model fails four-fifths.
    assert (run.status, run.verdict) == ("done", "fail"), run.error
    cached = sorted(p.name for p in Path(settings.STORAGE_CACHE_DIR).rglob("*") if p.is_file())
    assert cached == sorted([f"{sha256(onnx)}.onnx", f"{sha256(content)}.csv"])  # verified copies, by hash

    assert verify_media() == {"checked": 2, "problems": []}


@pytest.mark.django_db
def test_reports_and_bundles_are_built_into_and_downloaded_from_the_bucket(
    cast: Cast, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = arrange_evidence(cast)
    created = cast.owner.client().post(f"{API}/audits/{evidence.run_id}/reports/")
    assert created.status_code == 201, created.content
    report = created.json()
    pdf = cast.read_only.client().get(report["pdf"])
    assert pdf.status_code == 200
    assert sha256(pdf.content) == report["sha256"]
    assert bucket.get(f"reports/{report['sha256'][:2]}/{report['sha256']}.pdf") == pdf.content

    made = post_export(cast.officer.client(), {"model": evidence.model_name, "recipient": "regina"})
    whole = cast.officer.client().get(f"{API}/exports/{made['id']}/download")
    assert whole.status_code == 200
    assert sha256(whole.content) == made["sha256"]
    # Past the in-memory size the bundle streams from the bucket's response body, never read whole first.
    monkeypatch.setattr(exports_api, "_IN_MEMORY_BYTES", 0)
    streamed = cast.officer.client().get(f"{API}/exports/{made['id']}/download")
    assert streamed.streaming
    assert sha256(b"".join(streamed.streaming_content)) == made["sha256"]
    assert bucket.get(f"exports/{made['sha256'][:2]}/{made['sha256']}.zip") == whole.content

    checked = verify_media()
    assert checked["problems"] == []
    assert checked["checked"] >= 4  # the training and evaluation data, the reports, the bundle


# --- hostile or lost objects -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_object_altered_in_the_bucket_is_caught_by_its_hash(cast: Cast, bucket: Bucket, settings: Any) -> None:
    content = german_credit_csv(with_groups=True)
    dataset_version = make_file_version(cast, make_dataset(cast, "german"), content, name="german.csv")
    name = str(dataset_version.file.name)
    # Someone with write access to the bucket swaps the rows (same columns, other decisions).
    forged = content.replace(b">25", b"<=25")
    assert forged != content
    bucket.put(name, forged)

    with pytest.raises(StoredFileError, match="holds other bytes"):
        local_path(name, sha256=dataset_version.sha256)
    assert not [p for p in Path(settings.STORAGE_CACHE_DIR).rglob("*") if p.is_file()]  # no copy kept, not even part

    assert verify_media()["problems"] == [
        {
            "what": "dataset german v1",
            "file": name,
            "problem": f"holds other bytes (sha256 {sha256(forged)}, expected {dataset_version.sha256})",
        }
    ]

    register_model(cast, "minimal", name="credit-scoring")
    audits.ensure_builtin_policies()
    version = registry.do_register_version(
        model=register_model(cast, "minimal", name="predictions-only"),
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        metrics={"auc": 0.8},
    )
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles={"label": "credit_risk", "protected": ["age_group"], "prediction": "credit_risk"},
    )
    run = audits.execute_audit(run.pk)
    assert run.status == "error"
    assert "holds other bytes" in run.error


@pytest.mark.django_db
def test_a_missing_object_is_reported_missing(cast: Cast, bucket: Bucket) -> None:
    dataset_version = make_file_version(cast, make_dataset(cast, "german"), b"a,b\n1,2\n", name="t.csv")
    bucket.server.client().delete_object(Bucket=bucket.name, Key=bucket.key(str(dataset_version.file.name)))
    with pytest.raises(FileNotFoundError):
        open_stream(str(dataset_version.file.name))
    assert verify_media()["problems"][0]["problem"] == "missing"


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(bucket: Bucket, tmp_path: Path) -> None:
    """Past boto3's multipart threshold (8 MiB) the upload is multipart: read from disk part by part."""
    data = hashlib.sha256(b"seed").digest() * (20 * 1024 * 1024 // 32)  # 20 MiB
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    name = store_by_hash(path, folder="datasets", sha256=sha256(data), suffix=".bin")

    head = bucket.server.client().head_object(Bucket=bucket.name, Key=bucket.key(name))
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # S3's multipart ETag: three 8 MiB parts
    digest = hashlib.sha256()
    with open_stream(name) as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    assert digest.hexdigest() == sha256(data)
    # Stored again: the same name, no second object.
    assert store_by_hash(path, folder="datasets", sha256=sha256(data), suffix=".bin") == name
    assert bucket.keys() == [bucket.key(name)]


def test_the_node_cache_keeps_recent_copies_within_its_ceiling(bucket: Bucket, settings: Any, tmp_path: Path) -> None:
    """Copies past STORAGE_CACHE_MAX_BYTES go, least recently used first; a part left by a killed process goes once
    it is older than TEMP_FILE_MAX_AGE_SECONDS; a copy still in use is found again without a download."""
    settings.STORAGE_CACHE_MAX_BYTES = 2500
    stored = {}
    for n in range(3):
        data = bytes([n]) * 1000
        path = tmp_path / f"{n}.bin"
        path.write_bytes(data)
        stored[n] = (store_by_hash(path, folder="datasets", sha256=sha256(data), suffix=".bin"), sha256(data))
    cache = Path(settings.STORAGE_CACHE_DIR)
    first = local_path(stored[0][0], sha256=stored[0][1])
    stale = cache / "00" / ".part-killed"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a copy")
    os.utime(stale, (0, 0))  # 1970: older than any age
    os.utime(first, (1, 1))  # the least recently used
    second = local_path(stored[1][0], sha256=stored[1][1])
    assert local_path(stored[1][0], sha256=stored[1][1]) == second  # found again, not copied again
    third = local_path(stored[2][0], sha256=stored[2][1])  # 3000 bytes > 2500: the oldest goes

    assert sorted(p for p in cache.rglob("*") if p.is_file()) == sorted([second, third])
    assert third.read_bytes() == bytes([2]) * 1000


@pytest.mark.django_db
def test_an_object_removed_from_the_bucket_is_not_read_from_a_nodes_copy(cast: Cast, bucket: Bucket) -> None:
    dataset_version = make_file_version(cast, make_dataset(cast, "german"), b"a,b\n1,2\n", name="t.csv")
    name = str(dataset_version.file.name)
    copy = local_path(name, sha256=dataset_version.sha256)
    assert copy.read_bytes() == b"a,b\n1,2\n"
    bucket.server.client().delete_object(Bucket=bucket.name, Key=bucket.key(name))

    with pytest.raises(FileNotFoundError, match="not in the store"):
        local_path(name, sha256=dataset_version.sha256)
    assert not copy.exists()
