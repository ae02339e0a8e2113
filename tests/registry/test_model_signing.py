"""Signed models in: an artifact uploaded with an OpenSSF model signature, made here with the model-signing
package's own signers (keys and certificates generated in the test), is verified against the configured trust
roots; the version records its signer and the verified digest, with a trail event. A tampered artifact, a key or a
certificate authority nobody trusts, a forged signature or no signature file at all is refused with its reason, and
nothing changes. A tier that requires a signer fails the gate for an unsigned version, and its deploy."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import model_signing
import numpy
import pytest
import skl2onnx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion, RegisteredModel
from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.registry.api_helpers import refused, url
from tests.storage_files import read_stored, stored_names

SIGNER = "release-team"  # the trusted key's file name: its signer is key:release-team
CERTIFIED = "release@bank.example"  # the bank certificate's e-mail name: its signer is cert:email:release@bank.example


@pytest.fixture(scope="module")
def models() -> tuple[bytes, bytes]:
    """Two real ONNX classifiers (different regularisation): the one signed, and another passed off as it."""
    features, labels = load_breast_cancer(return_X_y=True)
    out = []
    for strength in (1.0, 0.01):
        model = LogisticRegression(C=strength, max_iter=5000).fit(features, labels)
        onnx = skl2onnx.to_onnx(model, features[:1].astype(numpy.float32), options={"zipmap": False})
        out.append(bytes(onnx.SerializeToString()))
    return out[0], out[1]


def write_key(folder: Path, name: str) -> tuple[Path, Path]:
    """A fresh P-256 key pair: (private key file, public key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = folder / f"{name}.key"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = folder / f"{name}.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def write_certificates(
    folder: Path, name: str, *, subject: str = "Release team", alternative: list[x509.GeneralName] | None = None
) -> tuple[Path, Path, Path]:
    """A certificate authority and a code-signing certificate it issued to ``subject`` (common name) with the
    subject alternative names ``alternative`` (default: CERTIFIED's e-mail; [] for none): (key, certificate, CA)."""
    if alternative is None:
        alternative = [x509.RFC822Name(CERTIFIED)]
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} model-signing CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
    )
    if alternative:
        leaf = leaf.add_extension(x509.SubjectAlternativeName(alternative), critical=False)
    leaf = (
        leaf.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / f"{name}-leaf.key", folder / f"{name}-leaf.pem", folder / f"{name}-ca.pem")
    paths[0].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


@pytest.fixture
def world(settings: Any, tmp_path: Path, models: tuple[bytes, bytes]) -> dict[str, Any]:
    """Trust roots (a trusted key, a trusted CA), an untrusted key and CA, and the model file to sign."""
    settings.MEDIA_ROOT = tmp_path / "media"
    trust = tmp_path / "trust"
    (trust / "keys").mkdir(parents=True)
    (trust / "certificates").mkdir()
    settings.MODEL_SIGNING_TRUST_DIR = str(trust)
    work = tmp_path / "work"
    work.mkdir()
    private, public = write_key(work, SIGNER)
    (trust / "keys" / f"{SIGNER}.pem").write_bytes(public.read_bytes())
    stranger, _ = write_key(work, "stranger")
    leaf_key, leaf, ca = write_certificates(work, "bank")
    (trust / "certificates" / "bank-ca.pem").write_bytes(ca.read_bytes())
    rogue = write_certificates(work, "rogue")
    model = work / "scorer.onnx"
    model.write_bytes(models[0])
    return {
        "work": work,
        "trust": trust,
        "model": model,
        "key": private,
        "stranger": stranger,
        "certificate": (leaf_key, leaf, ca),
        "rogue": rogue,
        "other_model": models[1],
    }


def sign_with_key(world: dict[str, Any], key: Path, name: str = "scorer.sig") -> bytes:
    signature = world["work"] / name
    model_signing.signing.Config().use_elliptic_key_signer(private_key=key).sign(world["model"], signature)
    return signature.read_bytes()


def sign_with_certificate(world: dict[str, Any], certificate: tuple[Path, Path, Path]) -> bytes:
    key, leaf, ca = certificate
    signature = world["work"] / "scorer-certificate.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=key, signing_certificate=leaf, certificate_chain=[ca]
    ).sign(world["model"], signature)
    return signature.read_bytes()


def upload(model: RegisteredModel, cast: Cast, artifact: bytes | None, signature: bytes | None) -> Any:
    fields: dict[str, Any] = {"metadata": json.dumps({})}
    if artifact is not None:
        fields["artifact"] = SimpleUploadedFile("scorer.onnx", artifact, content_type="application/octet-stream")
    if signature is not None:
        fields["signature"] = SimpleUploadedFile("scorer.sig", signature, content_type="application/json")
    return cast.owner.client().post(url(model.name, "versions"), fields, format="multipart")


# --- accepted ----------------------------------------------------------------------------------------------------


def test_a_key_signed_artifact_records_its_signer_digest_and_an_event(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any], settings: Any
) -> None:
    signature = sign_with_key(world, world["key"])
    artifact = world["model"].read_bytes()
    seq = last_seq()
    response = upload(high_risk_model, cast, artifact, signature)
    assert response.status_code == 201, response.content
    body = response.json()
    sha256 = hashlib.sha256(artifact).hexdigest()
    assert body["signed_by"] == f"key:{SIGNER}"
    assert {k: body["signature"][k] for k in ("method", "signer", "digest_algorithm", "digest")} == {
        "method": "key",
        "signer": f"key:{SIGNER}",
        "digest_algorithm": "sha256",
        "digest": sha256,
    }
    assert body["artifact_sha256"] == sha256
    version = ModelVersion.objects.get(model=high_risk_model, number=1)
    assert read_stored(version.signature["file"]) == signature
    assert version.signature["signature_sha256"] == hashlib.sha256(signature).hexdigest()

    [event] = events_since(seq, "model_version.signature_verified")
    assert event.payload == {
        "model": high_risk_model.name,
        "version": 1,
        "method": "key",
        "digest_algorithm": "sha256",
        "digest": sha256,
        "signature_sha256": hashlib.sha256(signature).hexdigest(),
        "signer_sha256": hashlib.sha256(f"key:{SIGNER}".encode()).hexdigest(),  # the signer as the version records it
    }


def test_a_certificate_signed_artifact_names_the_certificates_identity(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any]
) -> None:
    signature = sign_with_certificate(world, world["certificate"])
    response = upload(high_risk_model, cast, world["model"].read_bytes(), signature)
    assert response.status_code == 201, response.content
    assert (response.json()["signed_by"], response.json()["signature"]["method"]) == (
        f"cert:email:{CERTIFIED}",
        "certificate",
    )


def test_an_unsigned_artifact_is_still_accepted_and_says_so(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any]
) -> None:
    response = upload(high_risk_model, cast, world["model"].read_bytes(), None)
    assert response.status_code == 201, response.content
    assert (response.json()["signed_by"], response.json()["signature"]) == ("", {})


# --- refused -----------------------------------------------------------------------------------------------------


def test_a_tampered_artifact_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any], settings: Any
) -> None:
    signature = sign_with_key(world, world["key"])
    error = refused(lambda: upload(high_risk_model, cast, world["other_model"], signature), 422, "artifact_mismatch")
    assert "not the one that was signed" in error["message"]
    assert stored_names() == []


def test_a_key_nobody_trusts_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any], settings: Any
) -> None:
    signature = sign_with_key(world, world["stranger"])
    error = refused(
        lambda: upload(high_risk_model, cast, world["model"].read_bytes(), signature), 422, "untrusted_signer"
    )
    assert "not among the trusted keys" in error["message"]
    assert SIGNER in error["message"]
    assert stored_names() == []


def test_a_signature_passed_off_as_the_trusted_keys_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any]
) -> None:
    """A stranger's real signature whose key hint names the trusted key: the trusted key does not verify it."""
    trusted = json.loads(sign_with_key(world, world["key"], "trusted.sig"))
    forged = json.loads(sign_with_key(world, world["stranger"], "stranger.sig"))
    forged["verificationMaterial"] = trusted["verificationMaterial"]
    error = refused(
        lambda: upload(high_risk_model, cast, world["model"].read_bytes(), json.dumps(forged).encode()),
        422,
        "bad_signature",
    )
    assert "not made by the trusted key" in error["message"]


def test_a_certificate_from_an_authority_nobody_trusts_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any]
) -> None:
    signature = sign_with_certificate(world, world["rogue"])
    error = refused(
        lambda: upload(high_risk_model, cast, world["model"].read_bytes(), signature), 422, "untrusted_signer"
    )
    assert "does not chain to a trusted root" in error["message"]


def test_without_trust_roots_every_signature_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any], settings: Any
) -> None:
    signature = sign_with_key(world, world["key"])
    settings.MODEL_SIGNING_TRUST_DIR = ""
    refused(lambda: upload(high_risk_model, cast, world["model"].read_bytes(), signature), 422, "untrusted_signer")


@pytest.mark.parametrize(
    ("signature", "words"),
    [(b"not json", "not JSON"), (b'{"mediaType": "text/plain"}', "not a Sigstore bundle")],
)
def test_a_file_that_is_no_signature_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any], signature: bytes, words: str
) -> None:
    error = refused(lambda: upload(high_risk_model, cast, world["model"].read_bytes(), signature), 422, "bad_signature")
    assert words in error["message"]


def test_a_signature_without_its_artifact_is_refused(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any]
) -> None:
    signature = sign_with_key(world, world["key"])
    refused(lambda: upload(high_risk_model, cast, None, signature), 422, "signature_without_artifact")


# --- required by the tier ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={}, MODEL_SIGNING_REQUIRED_SIGNERS={"high": (f"key:{SIGNER}",)})
def test_a_tier_that_requires_a_signer_fails_an_unsigned_version_at_the_gate(
    cast: Cast, high_risk_model: RegisteredModel, world: dict[str, Any]
) -> None:
    artifact = world["model"].read_bytes()
    assert upload(high_risk_model, cast, artifact, None).status_code == 201  # v1: unsigned
    assert upload(high_risk_model, cast, artifact, sign_with_certificate(world, world["certificate"])).status_code == (
        201
    )  # v2: signed, by someone else than the tier requires
    assert upload(high_risk_model, cast, artifact, sign_with_key(world, world["key"])).status_code == 201  # v3
    for number in (1, 2, 3):
        version = ModelVersion.objects.get(model=high_risk_model, number=number)
        registry.do_submit(version=version, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
        for member in (cast.reviewer, cast.officer):
            registry.do_approve(version=version, user=member.user, actor=Actor.for_user(member.user))

    def gate(number: int) -> Any:
        body = {"model": high_risk_model.name, "version": number, "environment": "production"}
        return cast.ci.client().post("/api/v1/gates/check", body, format="json")

    unsigned, other, signed = gate(1), gate(2), gate(3)
    assert (unsigned.status_code, unsigned.json()["decision"]) == (412, "fail")
    assert f"must be signed by 'key:{SIGNER}'" in unsigned.json()["reasons"][0]
    assert "it is unsigned" in unsigned.json()["reasons"][0]
    assert (other.status_code, other.json()["decision"]) == (412, "fail")
    assert f"it is signed by 'cert:email:{CERTIFIED}'" in other.json()["reasons"][0]
    assert (signed.status_code, signed.json()["decision"]) == (200, "pass"), signed.json()

    # A deploy of the unsigned version is refused as well (nothing changes); the signed one deploys.
    def deploy(number: int) -> Any:
        path = url(high_risk_model.name, number, "deploy")
        return cast.officer.client().post(path, {"environment": "staging"}, format="json")

    error = refused(lambda: deploy(1), 409, "deployment_blocked")
    assert "it is unsigned" in error["message"]
    assert deploy(3).status_code == 200
