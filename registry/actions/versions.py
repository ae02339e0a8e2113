"""Registering a model's versions (an inspected artifact, or predictions only) and editing their model cards."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from governance.access.models import User
from governance.data.actions import DataError, link_training_run, training_datasets_of
from governance.storage import store_by_hash
from governance.trail.log import Actor, record_event
from registry import events, hooks
from registry.actions.common import (
    EDITABLE_CARD_STATES,
    RegistryError,
    _in_team,
    _locked,
    _ref,
    _refuse,
    _require_scope,
    _team_refusal,
)
from registry.artifacts import ArtifactError, inspect_artifact
from registry.models import MODEL_CARD_SECTIONS, Framework, ModelVersion, RegisteredModel, VersionSignature
from registry.signing import SignatureError, VerifiedSignature, verify_model_signature


def store_artifact(path: Path, *, sha256: str, framework: str) -> str:
    """Save an inspected artifact under a content-addressed name; returns the storage name.

    Runs before the version's transaction: if that transaction fails, an unreferenced file is left behind,
    never a version whose file is missing. Identical bytes share one stored file.
    """
    suffix = ".onnx" if framework == Framework.ONNX else ".skops"
    return store_by_hash(path, folder="artifacts", sha256=sha256, suffix=suffix)


def do_register_version(
    *,
    model: RegisteredModel,
    user: User,
    actor: Actor,
    artifact_path: Path | None = None,
    artifact_name: str = "",
    hyperparameters: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    code_repository: str = "",
    code_commit: str = "",
    training_datasets: Sequence[Any] = (),
    model_card: Mapping[str, str] | None = None,
    input_schema: Sequence[Mapping[str, Any]] | None = None,
    signature_path: Path | None = None,
) -> ModelVersion:
    """Register the next version of ``model``: an inspected ONNX/skops artifact, or predictions only (no path); an
    artifact may come with an OpenSSF model signature (``signature_path``), verified before anything is stored."""
    _require_scope(user, "models:write", "register versions")
    if not _in_team(user, model):
        raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
    card = _clean_card(model_card or {})
    training = _training_datasets(user, training_datasets)
    framework: str = Framework.PREDICTIONS
    stored, inspected = "", None
    if artifact_path is not None:
        try:
            inspected = inspect_artifact(
                artifact_path, filename=artifact_name or artifact_path.name, max_bytes=settings.ARTIFACT_MAX_BYTES
            )
        except ArtifactError as exc:
            raise RegistryError(str(exc), code=exc.code, status=413 if exc.code == "too_large" else 422) from None
        framework = inspected.framework
    signed = _verified_signature(artifact_path, signature_path)
    if artifact_path is not None and inspected is not None:
        stored = store_artifact(artifact_path, sha256=inspected.sha256, framework=framework)
    signature_file = _store_signature(signature_path, signed) if signature_path and signed else ""
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)  # serialise numbering per model
        number = (ModelVersion.objects.filter(model=model).aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            model=model,
            number=number,
            framework=framework,
            artifact=stored,
            artifact_name=artifact_name[:255],
            artifact_sha256=inspected.sha256 if inspected else "",
            artifact_size=inspected.size if inspected else None,
            artifact_details=inspected.details if inspected else {},
            input_schema=inspected.input_schema if inspected else list(input_schema or []),
            output_schema=inspected.output_schema if inspected else [],
            hyperparameters=dict(hyperparameters or {}),
            metrics=dict(metrics or {}),
            code_repository=code_repository,
            code_commit=code_commit,
            training_datasets=[{"dataset": v.dataset.name, "version": v.number} for v in training],
            model_card=card,
            created_by=user,
        )
        record_event(
            events.VERSION_REGISTERED,
            actor=actor,
            obj=version,
            payload={
                **_ref(version),
                "framework": framework,
                "artifact_sha256": version.artifact_sha256 or None,
                "artifact_size": version.artifact_size,
            },
        )
        if signed is not None:
            VersionSignature.objects.create(version=version, file=signature_file, **signed.as_dict())
            payload = _signature_payload(version)
            record_event(events.VERSION_SIGNATURE_VERIFIED, actor=actor, obj=version, payload=payload)
        link_training_run(model_version=version, user=user, actor=actor, datasets=training)
        # Findings resolved by "retrain" are linked to the version that replaces theirs (monitoring registers it).
        for hook in hooks.VERSION_REGISTERED:
            hook(version, actor=actor)
    return version


def _verified_signature(artifact_path: Path | None, signature_path: Path | None) -> VerifiedSignature | None:
    """The artifact's signature, verified against the configured trust roots (None: none came); refused (422) when
    it does not verify, naming why."""
    if signature_path is None:
        return None
    if artifact_path is None:
        raise RegistryError("A signature needs the artifact it signs.", code="signature_without_artifact", status=422)
    try:
        trust = Path(settings.MODEL_SIGNING_TRUST_DIR) if settings.MODEL_SIGNING_TRUST_DIR else None
        return verify_model_signature(artifact_path, signature_path, trust_dir=trust)
    except SignatureError as exc:
        raise RegistryError(str(exc), code=exc.code, status=422) from None


def _store_signature(path: Path, signed: VerifiedSignature) -> str:
    """The signature bundle, stored content-addressed beside the artifacts (before the version's transaction, as
    the artifact is); returns its storage name."""
    return store_by_hash(path, folder="signatures", sha256=signed.signature_sha256, suffix=".sig.json")


def _signature_payload(version: ModelVersion) -> dict[str, Any]:
    signature = version.signature
    return {
        **_ref(version),
        **{key: signature[key] for key in ("method", "digest_algorithm", "digest", "signature_sha256")},
        "signer_sha256": hashlib.sha256(version.signed_by.encode()).hexdigest(),
    }


def _training_datasets(user: User, references: Sequence[Any]) -> list[Any]:
    """The dataset versions a new version was trained on, resolved (and access-checked) before anything is written."""
    try:
        return training_datasets_of(user, references)
    except DataError as exc:
        raise RegistryError(str(exc), code="invalid_training_datasets", status=422) from None


def _clean_card(card: Mapping[str, Any]) -> dict[str, str]:
    unknown = set(card) - set(MODEL_CARD_SECTIONS)
    if unknown:
        raise RegistryError(
            f"Unknown model card sections: {', '.join(sorted(unknown))}. Sections: {', '.join(MODEL_CARD_SECTIONS)}.",
            code="invalid_model_card",
            status=422,
        )
    not_text = sorted(k for k, v in card.items() if not isinstance(v, str))
    if not_text:
        raise RegistryError(f"Model card sections must be text: {', '.join(not_text)}.", status=422)
    return {key: card[key] for key in MODEL_CARD_SECTIONS if key in card}


def do_edit_model_card(*, version: ModelVersion, user: User, actor: Actor, card: Mapping[str, Any]) -> ModelVersion:
    """Replace sections of a version's model card while it is a draft or under review."""
    _require_scope(user, "models:write", "edit model cards")
    cleaned = _clean_card(card)
    with transaction.atomic():
        locked = _locked(version)
        _refuse(card_refusal(user, locked))
        sections = sorted(k for k, v in cleaned.items() if locked.model_card.get(k) != v)
        if sections:
            locked.model_card = {**locked.model_card, **cleaned}
            locked.save(update_fields=["model_card"])
            digest = hashlib.sha256(json.dumps(locked.model_card, sort_keys=True).encode()).hexdigest()
            record_event(
                events.MODEL_CARD_EDITED,
                actor=actor,
                obj=locked,
                payload={**_ref(locked), "sections": sections, "card_sha256": digest},
            )
    return locked


def card_refusal(user: User, version: ModelVersion) -> RegistryError | None:
    """Why ``user`` may not edit ``version``'s model card now (role, team, state, a review already made), or None."""
    try:
        _require_scope(user, "models:write", "edit model cards")
        _team_refusal(user, version.model)
    except RegistryError as exc:
        return exc
    if version.state not in EDITABLE_CARD_STATES:
        return RegistryError(
            f"The model card of {version} can no longer change: it is {version.state} (editable while draft or "
            "submitted).",
            code="illegal_transition",
        )
    if version.reviews.exists():
        # An approval applies to the card as it was read; changing it afterwards would let two approvers
        # approve two different cards.
        return RegistryError(
            f"The model card of {version} is frozen: a reviewer has already decided on it.", code="card_frozen"
        )
    return None
