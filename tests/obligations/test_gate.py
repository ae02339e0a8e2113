"""The deployment gate's obligations check: with OBLIGATIONS_REQUIRED_FOR_DEPLOY naming a catalogue for a tier, a
version of that tier deploys only when none of the catalogue's applicable obligations is missing; an officer's
attestation or "not applicable" lets it through, and a tier left out deploys as before."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from obligations.actions import do_decide, do_save_catalogue
from registry import actions
from registry.actions.common import RegistryError
from registry.models import ModelVersion, RegisteredModel, VersionState
from tests.conftest import Cast
from tests.registry.conftest import acting, register_model

RULES = """\
name: deploy-rules
title: Deployment rules
framework: House rules
binding: false
source: the test
description: What a minimal-risk version needs before it deploys.
obligations:
  - id: card
    title: Intended use written down
    summary: The model card says what the model is for.
    control: H.1
    applies_to: {tiers: [minimal], roles: [provider]}
    evidence:
      - {kind: model_card_section, section: intended_use}
      - {kind: attestation, document: "The intended use, written elsewhere."}
  - id: deployer-only
    title: Something for deployers
    summary: Applies to deployers only.
    control: H.2
    applies_to: {tiers: [minimal], roles: [deployer]}
    evidence:
      - {kind: approval}
"""


@pytest.fixture
def rules(cast: Cast) -> None:
    do_save_catalogue(user=cast.officer.user, actor=acting(cast.officer), text=RULES)


def _approved(cast: Cast, make_version: Any, walk: Any, **card: str) -> ModelVersion:
    """An approved version of a fresh minimal-risk model with the model card ``card``."""
    name = f"router-{RegisteredModel.objects.count() + 1}"
    version = make_version(register_model(cast, "minimal", name=name), model_card=card)
    return walk(version, VersionState.APPROVED)


def _deploy(cast: Cast, version: ModelVersion) -> str:
    """Deploy ``version`` to staging as the officer; its state afterwards."""
    actions.do_deploy(version=version, user=cast.officer.user, actor=acting(cast.officer), environment="staging")
    version.refresh_from_db()
    return version.state


@override_settings(OBLIGATIONS_REQUIRED_FOR_DEPLOY={"minimal": ("deploy-rules",)})
def test_a_missing_obligation_blocks_the_deployment(cast: Cast, rules: None, make_version: Any, walk: Any) -> None:
    version = _approved(cast, make_version, walk)
    with pytest.raises(RegistryError) as refused:
        _deploy(cast, version)
    assert refused.value.code == "deployment_blocked"
    # Both roles are assumed until an officer says otherwise: the deployer's obligation is met by the approval.
    assert "1 obligations are missing for a minimal-risk version: deploy-rules/card" in str(refused.value)
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED


@override_settings(OBLIGATIONS_REQUIRED_FOR_DEPLOY={"minimal": ("deploy-rules",)})
def test_evidence_or_an_officers_decision_lets_it_deploy(cast: Cast, rules: None, make_version: Any, walk: Any) -> None:
    with_card = _approved(cast, make_version, walk, intended_use="Routing documents.")
    assert _deploy(cast, with_card) == VersionState.DEPLOYED
    attested = _approved(cast, make_version, walk)
    do_decide(
        user=cast.officer.user,
        actor=acting(cast.officer),
        version=attested,
        catalogue="deploy-rules",
        obligation="card",
        kind="attested",
        reason="Written in the runbook.",
        document_name="runbook.pdf",
        document_sha256="d" * 64,
    )
    assert _deploy(cast, attested) == VersionState.DEPLOYED


@override_settings(OBLIGATIONS_REQUIRED_FOR_DEPLOY={"high": ("deploy-rules",)})
def test_a_tier_left_out_deploys_as_before(cast: Cast, rules: None, make_version: Any, walk: Any) -> None:
    assert _deploy(cast, _approved(cast, make_version, walk)) == VersionState.DEPLOYED


@override_settings(OBLIGATIONS_REQUIRED_FOR_DEPLOY={"minimal": ("no-such-catalogue",)})
def test_a_required_catalogue_that_does_not_exist_blocks_rather_than_passes(
    cast: Cast, make_version: Any, walk: Any
) -> None:
    with pytest.raises(RegistryError) as refused:
        _deploy(cast, _approved(cast, make_version, walk))
    assert "no-such-catalogue" in str(refused.value)
