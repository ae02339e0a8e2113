"""A required signer names its method, so names chosen by different people never stand in for each other: the
operator names trusted key files (``keys/release-team.pem`` is ``key:release-team``), any trusted certificate
authority names its certificates' subjects (``cert:cn:release-team``, ``cert:dns:...``, ``cert:email:...``). Real
signatures, made here with the model-signing package's own key and certificate signers and verified on upload,
then judged by the approval gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from django.test import override_settings

from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion, RegisteredModel, VersionSignature
from registry.signing import MAX_SIGNER_LENGTH
from tests.conftest import Cast
from tests.registry.api_helpers import refused
from tests.registry.test_model_signing import (  # noqa: F401 - models and world are fixtures
    CERTIFIED,
    SIGNER,
    models,
    sign_with_certificate,
    sign_with_key,
    upload,
    world,
    write_certificates,
)
from tests.storage_files import stored_names


def trusted_certificate(scene: dict[str, Any], name: str, **names: Any) -> tuple[Path, Path, Path]:
    """A code-signing certificate from a new certificate authority the operator trusts (its CA in certificates/)."""
    certificate = write_certificates(scene["work"], name, **names)
    (scene["trust"] / "certificates" / f"{name}-ca.pem").write_bytes(certificate[2].read_bytes())
    return certificate


def approved(model: RegisteredModel, cast: Cast, scene: dict[str, Any], signature: bytes) -> ModelVersion:
    """A version of the model file uploaded with ``signature`` (verified), submitted and approved."""
    response = upload(model, cast, scene["model"].read_bytes(), signature)
    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(model=model, number=response.json()["number"])
    registry.do_submit(version=version, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
    for member in (cast.reviewer, cast.officer):
        registry.do_approve(version=version, user=member.user, actor=Actor.for_user(member.user))
    return version


def gate(cast: Cast, version: ModelVersion) -> tuple[int, str, list[str]]:
    body = {"model": version.model.name, "version": version.number, "environment": "production"}
    answer = cast.ci.client().post("/api/v1/gates/check", body, format="json")
    return answer.status_code, answer.json()["decision"], answer.json()["reasons"]


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={}, MODEL_SIGNING_REQUIRED_SIGNERS={"high": (f"key:{SIGNER}",)})
def test_a_certificate_named_like_a_trusted_key_does_not_meet_the_keys_requirement(
    cast: Cast,
    high_risk_model: RegisteredModel,
    world: dict[str, Any],  # noqa: F811 - the fixture
) -> None:
    named_cn = trusted_certificate(world, "cn-impostor", subject=SIGNER, alternative=[])
    named_dns = trusted_certificate(world, "dns-impostor", subject="Impostor", alternative=[x509.DNSName(SIGNER)])
    by_cn = approved(high_risk_model, cast, world, sign_with_certificate(world, named_cn))
    by_dns = approved(high_risk_model, cast, world, sign_with_certificate(world, named_dns))
    by_key = approved(high_risk_model, cast, world, sign_with_key(world, world["key"]))

    # Both certificates verified (their CAs are trusted), each recorded under its own kind of name.
    assert (by_cn.signed_by, by_dns.signed_by, by_key.signed_by) == (
        f"cert:cn:{SIGNER}",
        f"cert:dns:{SIGNER}",
        f"key:{SIGNER}",
    )
    for impostor in (by_cn, by_dns):
        status, decision, reasons = gate(cast, impostor)
        assert (status, decision) == (412, "fail")
        assert f"must be signed by 'key:{SIGNER}'" in reasons[0]
        assert f"it is signed by '{impostor.signed_by}'" in reasons[0]
    status, decision, reasons = gate(cast, by_key)
    assert (status, decision) == (200, "pass"), reasons


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={}, MODEL_SIGNING_REQUIRED_SIGNERS={"high": (f"cert:email:{CERTIFIED}",)})
def test_a_certificate_requirement_is_met_only_by_that_identity(
    cast: Cast,
    high_risk_model: RegisteredModel,
    world: dict[str, Any],  # noqa: F811 - the fixture
) -> None:
    common_name = trusted_certificate(world, "cn-only", subject=CERTIFIED, alternative=[])
    other_email = trusted_certificate(
        world, "other-email", subject="Release team", alternative=[x509.RFC822Name("someone@bank.example")]
    )
    by_cn = approved(high_risk_model, cast, world, sign_with_certificate(world, common_name))
    by_other = approved(high_risk_model, cast, world, sign_with_certificate(world, other_email))
    by_key = approved(high_risk_model, cast, world, sign_with_key(world, world["key"]))
    by_identity = approved(high_risk_model, cast, world, sign_with_certificate(world, world["certificate"]))

    assert by_cn.signed_by == f"cert:cn:{CERTIFIED}"  # the same words, as a common name: another kind of name
    for other in (by_cn, by_other, by_key):
        status, decision, reasons = gate(cast, other)
        assert (status, decision) == (412, "fail")
        assert f"it is signed by '{other.signed_by}'" in reasons[0]
    assert by_identity.signed_by == f"cert:email:{CERTIFIED}"
    status, decision, reasons = gate(cast, by_identity)
    assert (status, decision) == (200, "pass"), reasons


@pytest.mark.django_db
@pytest.mark.parametrize("length", [MAX_SIGNER_LENGTH, MAX_SIGNER_LENGTH + 1])
@override_settings(AUDIT_REQUIRED_POLICIES={})
def test_a_signer_longer_than_a_version_can_record_is_refused_by_name_with_nothing_stored(
    cast: Cast,
    high_risk_model: RegisteredModel,
    world: dict[str, Any],  # noqa: F811 - the fixture
    length: int,
) -> None:
    """A certificate may name an identity of any length: one whose signer ("cert:uri:" and the URI) fits the column
    is recorded whole; one a character longer is refused saying so, with no version, file record or event (on
    PostgreSQL the column would otherwise refuse it with a database error, a 500; SQLite would store it)."""
    prefix = "cert:uri:https://ci.bank.example/"
    uri = "https://ci.bank.example/" + "w" * (length - len(prefix))
    long_named = trusted_certificate(
        world, f"long-{length}", subject="Release pipeline", alternative=[x509.UniformResourceIdentifier(uri)]
    )
    signature = sign_with_certificate(world, long_named)
    send = lambda: upload(high_risk_model, cast, world["model"].read_bytes(), signature)  # noqa: E731

    if length <= MAX_SIGNER_LENGTH:
        response = send()
        assert response.status_code == 201, response.content
        assert response.json()["signed_by"] == f"cert:uri:{uri}"
        assert len(response.json()["signed_by"]) == MAX_SIGNER_LENGTH
        return
    error = refused(send, 422, "bad_signature")  # the error's shape, and nothing stored, no event
    assert f"its signer's name is {length} characters long" in error["message"]
    assert f"at most {MAX_SIGNER_LENGTH} characters" in error["message"]
    assert stored_names() == []


def test_the_signer_bound_is_the_column_it_protects() -> None:
    assert VersionSignature._meta.get_field("signer").max_length == MAX_SIGNER_LENGTH
