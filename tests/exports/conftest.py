"""Arrangements of the export tests: a model with evidence (a training dataset of consenting subjects, a withdrawal
that opens a finding, a completed audit), bundles rewritten the way an attacker or a careless insider would, and
the standalone verifier run in a bare Python that can import ``cryptography`` and nothing of Assay."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import TestCase
from django.utils import timezone

from audits import actions as audits
from audits.models import Policy, RunStatus
from governance.exports.bundle import MANIFEST, MANIFEST_SIG, ZIP_TIMESTAMP, manifest_bytes, signature_line
from governance.trail.keys import load_signing_key, published_verifier_keys
from governance.trail.log import Actor
from registry.models import ModelVersion
from tests.audits.conftest import PASSING_RATES, PREDICTION_ROLES, decision_rows, upload
from tests.conftest import Cast
from tests.data.conftest import (
    applicant_id,
    german_csv,
    make_dataset,
    make_file_version,
    make_model,
    make_model_version,
    make_purpose,
    media_root,  # noqa: F401 - a fixture
    pseudonym,
    record_consent,
)

API = "/api/v1"
MODEL = "credit-scoring"
SUBJECTS = 12  # at or above COVERAGE_MIN_SUBJECTS (10): the bundle may give coverage counts


@dataclass
class Evidence:
    model_name: str
    version: ModelVersion
    run_id: int
    external_ids: list[str]
    pseudonyms: list[str]


def arrange_evidence(cast: Cast, *, name: str = MODEL) -> Evidence:
    """A model version trained on applicants of whom ``SUBJECTS`` consented and one then withdrew (which opens a
    finding naming the subject's pseudonym in the trail), with a completed four-fifths audit."""
    purpose = make_purpose(cast)
    training = make_file_version(
        cast,
        make_dataset(cast, f"{name}-applicants"),
        german_csv(rows=40, subjects=SUBJECTS),
        subject_id_column="applicant_id",
    )
    external_ids = [applicant_id(n) for n in range(1, SUBJECTS + 1)]
    yesterday = timezone.now() - dt.timedelta(days=1)
    for external_id in external_ids:
        record_consent(cast, external_id, "given", yesterday, purpose=purpose)
    version = make_model_version(cast, make_model(cast, name), trained_on=[training])
    record_consent(cast, external_ids[0], "withdrawn", timezone.now(), purpose=purpose)
    assert version.findings.count() == 1, "the withdrawal should open a finding on the version"
    audits.ensure_builtin_policies()

    with TestCase.captureOnCommitCallbacks(execute=True):  # the audit job runs once its transaction commits
        run, _ = audits.do_start_audit(
            user=cast.owner.user,
            actor=audits_actor(cast),
            model_version=version,
            dataset_version=upload(cast, decision_rows(PASSING_RATES), dataset=f"{name}-evaluation"),
            policy_version=Policy.objects.get(name="four-fifths").latest_version(),
            column_roles=PREDICTION_ROLES,
        )
    run.refresh_from_db()
    assert run.status == RunStatus.DONE, run.error
    return Evidence(
        model_name=name,
        version=version,
        run_id=run.pk,
        external_ids=external_ids,
        pseudonyms=[pseudonym(e) for e in external_ids],
    )


def post_export(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST an export through the API and let its build run, as it does once the request's transaction commits (the
    test's transaction never commits): 202 and queued first, then its own page shows it ready."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"{API}/exports/", body, format="json")
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "queued"
        assert response["Location"] == f"{API}/exports/{response.json()['id']}/"
    made = client.get(response["Location"])
    assert made.status_code == 200, made.content
    assert made.json()["status"] == "ready", made.json()
    return dict(made.json())


def build_now(make: Callable[[], Any]) -> Any:
    """Call ``make`` (an action that queues an export's build on commit) and run the build when it returns."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        made = make()
    made.refresh_from_db()
    return made


def audits_actor(cast: Cast) -> Any:
    return Actor.for_user(cast.owner.user)


def trusted_keys_text() -> str:
    return "".join(f"{key}\n" for key in published_verifier_keys())


# --- running the verifier as a regulator would ------------------------------------------------------------------

_SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))


def bare_python_path() -> str:
    """A folder holding only ``cryptography`` and what it needs (cffi), for a Python started without site-packages."""
    folder = Path(tempfile.mkdtemp(prefix="assay-bare-site-"))
    for name in os.listdir(_SITE):
        if name.split("-")[0].split(".")[0] in ("cryptography", "cffi", "_cffi_backend", "pycparser"):
            (folder / name).symlink_to(_SITE / name)
    return str(folder)


_BARE = bare_python_path()


@dataclass
class Verdict:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_verify(bundle: bytes, *args: str, files: Mapping[str, bytes] | None = None) -> Verdict:
    """Extract verify.py from ``bundle`` into an empty folder and run ``python -S verify.py bundle.zip ARGS`` there,
    with no site-packages but ``cryptography`` and an empty environment (no Django, no Assay, no network use)."""
    folder = Path(tempfile.mkdtemp(prefix="assay-regulator-"))
    (folder / "bundle.zip").write_bytes(bundle)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        (folder / "verify.py").write_bytes(archive.read("verify.py"))
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-S", "verify.py", "bundle.zip", *args],
        cwd=folder,
        env={"PYTHONPATH": _BARE, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Verdict(result.returncode, result.stdout, result.stderr)


# --- rewriting bundles -------------------------------------------------------------------------------------------


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP), data)
    return out.getvalue()


def rewrite(
    bundle: bytes,
    *,
    change: Mapping[str, bytes | None] | None = None,
    resign: bool = False,
    signer: Callable[[bytes], bytes] | None = None,
    edit_header: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    """``bundle`` with members changed (``None`` removes one). With ``resign``, the manifest is rebuilt for the new
    members and signed again with the server's real key (an insider), or by ``signer``."""
    files = members(bundle)
    for name, data in (change or {}).items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    if resign or signer:
        document = json.loads(files[MANIFEST])
        header = {k: v for k, v in document.items() if k not in ("files", "format")}
        if edit_header:
            edit_header(header)

        entries = [
            {"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in files.items()
            if n not in (MANIFEST, MANIFEST_SIG)
        ]
        manifest = manifest_bytes(header=header, entries=entries)
        files[MANIFEST] = manifest
        files[MANIFEST_SIG] = (signer or real_signer)(manifest)
    return rezip(files)


def real_signer(data: bytes) -> bytes:
    key = load_signing_key()
    return signature_line(key_name=key.name, key_id=key.key_id, signature=key.private_key.sign(data))


def jsonl(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@pytest.fixture
def evidence(cast: Cast, media_root: Any) -> Evidence:  # noqa: F811 - the imported fixture, requested
    return arrange_evidence(cast)
