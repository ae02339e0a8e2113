"""Sigstore keyless model signatures, verified offline against a configured trusted root.

Nothing can be signed through Fulcio and Rekor here (no network), so the signature is a real one made through
Sigstore's public-good instance and published by the model-signing project itself (tests/data/sigstore/PROVENANCE.md).
It covers a folder of two files, so it verifies over that folder (``verify_signed_files``); a version's artifact is
one file, so the same bundle uploaded beside either file is refused, with nothing stored."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import ModelVersion, RegisteredModel, VersionSignature
from registry.signature_rules import signature_refusal
from registry.signing import SignatureError, verify_model_signature, verify_signed_files
from tests.conftest import Cast
from tests.registry.api_helpers import refused, url
from tests.registry.test_model_signing import models  # noqa: F401 - a fixture: real ONNX classifiers
from tests.registry.test_model_signing_docs import read_settings
from tests.storage_files import stored_names

DATA = Path(__file__).resolve().parents[1] / "data" / "sigstore"
ASSET = DATA / "model-transparency-v1.1.0"
SIGNER = "sigstore:stefanb@us.ibm.com;issuer=https://sigstore.verify.ibm.com/oauth2"  # as the project's test names it


def trust_folder(tmp_path: Path, root: str | None) -> Path:
    """An operator's trust folder holding the named trusted root as sigstore/trusted_root.json (None: no root)."""
    trust = tmp_path / "trust"
    (trust / "sigstore").mkdir(parents=True)
    if root is not None:
        shutil.copy(DATA / "trusted-roots" / f"{root}.json", trust / "sigstore" / "trusted_root.json")
    return trust


def model_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(ASSET / "model", folder)
    return folder


def test_a_real_keyless_signature_verifies_offline_and_names_its_signer(tmp_path: Path) -> None:
    verified = verify_signed_files(
        model_copy(tmp_path), ASSET / "model.sig", trust_dir=trust_folder(tmp_path, "public-good")
    )
    assert (verified.method, verified.signer) == ("sigstore", SIGNER)
    # The digests the signed statement names are the files' own (hashed here, independently of model-signing).
    assert {(f.name, f.digest_algorithm, f.digest) for f in verified.files} == {
        (name, "sha256", hashlib.sha256((ASSET / "model" / name).read_bytes()).hexdigest())
        for name in ("signme-1", "signme-2")
    }
    assert verified.signature_sha256 == hashlib.sha256((ASSET / "model.sig").read_bytes()).hexdigest()


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    model = model_copy(tmp_path)
    (model / "signme-2").write_bytes(b"signme-3\n")
    with pytest.raises(SignatureError) as refusal:
        verify_signed_files(model, ASSET / "model.sig", trust_dir=trust_folder(tmp_path, "public-good"))
    assert refusal.value.code == "artifact_mismatch"
    assert "signme-2" in str(refusal.value)


def test_another_sigstore_instances_root_does_not_vouch_for_it(tmp_path: Path) -> None:
    """Staging's real trusted root: the certificate and the log entry were not issued under it."""
    with pytest.raises(SignatureError) as refusal:
        verify_signed_files(model_copy(tmp_path), ASSET / "model.sig", trust_dir=trust_folder(tmp_path, "staging"))
    assert refusal.value.code == "untrusted_signer"
    assert "trusted Sigstore root" in str(refusal.value)


@pytest.mark.parametrize("root", [None, "missing-folder"])
def test_without_a_configured_root_a_keyless_signature_is_refused(tmp_path: Path, root: str | None) -> None:
    trust = None if root == "missing-folder" else trust_folder(tmp_path, None)
    with pytest.raises(SignatureError) as refusal:
        verify_signed_files(model_copy(tmp_path), ASSET / "model.sig", trust_dir=trust)
    assert refusal.value.code == "untrusted_signer"
    assert "no Sigstore trusted root is configured" in str(refusal.value)


def test_an_unreadable_trusted_root_is_refused_by_name(tmp_path: Path) -> None:
    trust = trust_folder(tmp_path, None)
    (trust / "sigstore" / "trusted_root.json").write_text("{not json")
    with pytest.raises(SignatureError) as refusal:
        verify_signed_files(model_copy(tmp_path), ASSET / "model.sig", trust_dir=trust)
    assert (refusal.value.code, "trusted root cannot be read" in str(refusal.value)) == ("untrusted_signer", True)


@pytest.mark.parametrize(
    "damage",
    [
        lambda bundle: bundle["verificationMaterial"]["certificate"].update(rawBytes="bm90IGEgY2VydGlmaWNhdGU="),
        lambda bundle: bundle["verificationMaterial"]["certificate"].pop("rawBytes"),
        lambda bundle: bundle["verificationMaterial"]["tlogEntries"][0].update(logIndex="1"),
        lambda bundle: bundle["dsseEnvelope"]["signatures"][0].update(sig="AAAA"),
    ],
    ids=["not-a-certificate", "no-certificate-bytes", "another-log-index", "forged-signature"],
)
def test_a_damaged_bundle_is_refused_with_a_reason(tmp_path: Path, damage: Any) -> None:
    bundle = json.loads((ASSET / "model.sig").read_text())
    damage(bundle)
    signature = tmp_path / "damaged.sig"
    signature.write_text(json.dumps(bundle))
    with pytest.raises(SignatureError) as refusal:
        verify_signed_files(model_copy(tmp_path), signature, trust_dir=trust_folder(tmp_path, "public-good"))
    assert refusal.value.code in ("bad_signature", "untrusted_signer")
    assert str(refusal.value)


def test_a_version_artifact_is_one_file_so_the_folder_signature_does_not_register_one(tmp_path: Path) -> None:
    model = model_copy(tmp_path)
    with pytest.raises(SignatureError) as refusal:
        verify_model_signature(model, ASSET / "model.sig", trust_dir=trust_folder(tmp_path, "public-good"))
    assert (refusal.value.code, str(refusal.value)) == (
        "bad_signature",
        "The signature covers 2 files; a version's artifact is one file.",
    )


def test_uploaded_beside_a_model_file_it_did_not_sign_it_is_refused_and_nothing_is_stored(
    cast: Cast,
    high_risk_model: RegisteredModel,
    settings: Any,
    tmp_path: Path,
    models: tuple[bytes, bytes],  # noqa: F811
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_SIGNING_TRUST_DIR = str(trust_folder(tmp_path, "public-good"))
    fields = {
        "metadata": json.dumps({}),
        "artifact": SimpleUploadedFile("scorer.onnx", models[0], content_type="application/octet-stream"),
        "signature": SimpleUploadedFile("model.sig", (ASSET / "model.sig").read_bytes()),
    }
    error = refused(
        lambda: cast.owner.client().post(url(high_risk_model.name, "versions"), fields, format="multipart"),
        422,
        "artifact_mismatch",
    )
    assert "not the one that was signed" in error["message"]
    assert ModelVersion.objects.filter(model=high_risk_model).count() == 0
    assert stored_names() == []


@pytest.mark.parametrize(
    ("signed_by", "refused_for"),
    [
        (SIGNER, None),
        ("sigstore:stefanb@us.ibm.com;issuer=https://accounts.google.com", "signed by"),  # same address, other issuer
        ("cert:email:stefanb@us.ibm.com", "signed by"),  # a certificate naming the address is not the keyless signer
        ("", "unsigned"),
    ],
)
def test_a_tier_requiring_the_keyless_signer_accepts_only_that_identity_and_issuer(
    cast: Cast, high_risk_model: RegisteredModel, settings: Any, signed_by: str, refused_for: str | None
) -> None:
    """The rule over a recorded signer (the record written directly: no second real keyless signature exists)."""
    settings.MODEL_SIGNING_REQUIRED_SIGNERS = {"high": (SIGNER,)}
    version = ModelVersion.objects.create(model=high_risk_model, number=1, created_by=cast.owner.user)
    if signed_by:
        method = signed_by.partition(":")[0].replace("cert", "certificate")
        VersionSignature.objects.create(
            version=version, method=method, signer=signed_by, digest_algorithm="sha256", digest="0" * 64,
            signature_sha256="0" * 64, file="signatures/x.sig.json",
        )  # fmt: skip
    refusal = signature_refusal(ModelVersion.objects.get(pk=version.pk))
    if refused_for is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert refused_for in refusal
        assert SIGNER in refusal


def test_the_required_signers_setting_reads_a_keyless_signer_and_refuses_one_without_its_issuer() -> None:
    out = read_settings({"MODEL_SIGNING_REQUIRED_SIGNERS": f"high={SIGNER},high=key:release-team"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str({"high": (SIGNER, "key:release-team")})
    for value in ("high=sigstore:stefanb@us.ibm.com", "high=sigstore:;issuer=https://x.example", "high=sigstore:"):
        out = read_settings({"MODEL_SIGNING_REQUIRED_SIGNERS": value})
        assert out.returncode != 0, value
        assert "sigstore:<identity>;issuer=<OpenID issuer>" in out.stderr, value
