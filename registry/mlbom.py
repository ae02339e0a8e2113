"""A model version as a CycloneDX 1.6 ML-BOM: the model, its model card, its datasets and their lineage, the
libraries its audits ran with, and the audits' outcomes.

cyclonedx-python-lib builds and serialises the BOM (components, hashes, properties, dependencies). It does not model
two CycloneDX 1.5+ fields yet (``Component.model_card`` and ``Component.data`` are TODOs in its source), so those are
added to the serialised JSON here, in the shape the CycloneDX 1.6 schema gives them; the tests validate the whole
document against that schema.

The model is the BOM's subject (``metadata.component``). Datasets are ``data`` components, each with its sha256 as
the registry recorded it; what a dataset was derived from (its lineage runs) becomes the dependency graph. Nodes of
the lineage the reader may not see are left out, and the BOM says how many were.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from governance.data.lineage import DATASET, graph_as_json, traverse
from registry.models import ModelVersion

MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.6"
_NS = uuid.UUID("6f1e3c5e-3f55-4d8e-9a53-6d6c1c0f23a1")  # serial numbers: one stable UUID per version and content
# The audit's own group metrics that CycloneDX's performanceMetrics carry, each with its Wilson interval.
_GROUP_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "precision")
# Library names recorded with an audit that are facts about the machine, not packages (audits.reproducibility).
_NOT_A_PACKAGE = "numerics:"


def version_mlbom(version: ModelVersion, *, user: Any, at: dt.datetime | None = None) -> dict[str, Any]:
    """The CycloneDX 1.6 ML-BOM of ``version`` as ``user`` may see it (a JSON-ready dict), made ``at`` (default:
    now; an evidence bundle gives its export time)."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    model_ref = f"model:{version.model.name}/v{version.number}"
    runs = _done_runs(version)
    lineage = graph_as_json(traverse(version, direction="upstream"), user=user)
    datasets = _datasets(version, lineage, runs)
    libraries = _libraries(runs)

    bom = Bom()
    if at is not None:
        bom.metadata.timestamp = at
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=version.model.name,
        version=str(version.number),
        bom_ref=model_ref,
        description=version.model.purpose,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if (digest := version.artifact_sha256) else [],
        properties=[Property(name=name, value=value) for name, value in _model_properties(version)],
    )
    bom.metadata.component = model
    data_components = {
        ref: Component(
            type=ComponentType.DATA,
            name=item["dataset"],
            version=str(item["version"]),
            bom_ref=ref,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=item["sha256"])] if item["sha256"] else [],
            properties=[Property(name=f"assay:{key}", value=str(value)) for key, value in item["facts"].items()],
        )
        for ref, item in datasets.items()
    }
    library_components = {
        ref: Component(
            type=ComponentType.LIBRARY,
            name=name,
            version=release,
            bom_ref=ref,
            purl=PackageURL(type="pypi", name=name, version=release),
        )
        for ref, (name, release) in libraries.items()
    }
    for component in [*data_components.values(), *library_components.values()]:
        bom.components.add(component)
    trained_on = [data_components[ref] for ref, item in datasets.items() if "training" in item["roles"]]
    bom.register_dependency(model, [*trained_on, *library_components.values()])
    for ref, item in datasets.items():
        upstream = [data_components[r] for r in item["derived_from"] if r in data_components]
        if upstream:
            bom.register_dependency(data_components[ref], upstream)
    bom.serial_number = uuid.uuid5(_NS, f"{model_ref}:{version.artifact_sha256}:{version.pk}")

    document: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    document["metadata"]["component"]["modelCard"] = _model_card(version, datasets, runs)
    for component in document.get("components", []):
        dataset = datasets.get(component["bom-ref"])
        if dataset is not None:
            component["data"] = [{"type": "dataset", "name": component["name"], "description": dataset["description"]}]
    hidden = sum(1 for node in lineage["nodes"] if node.get("hidden"))
    if hidden:
        document["metadata"].setdefault("properties", []).append(
            {"name": "assay:lineage:hidden_nodes", "value": str(hidden)}
        )
    return document


def _done_runs(version: ModelVersion) -> list[Any]:
    # The reverse relation of audits' AuditRun (no import of audits: the registry stands below it).
    return list(version.audit_runs.filter(status="done").select_related("dataset_version__dataset", "policy_version"))


def _model_properties(version: ModelVersion) -> list[tuple[str, str]]:
    facts: dict[str, Any] = {
        "assay:framework": version.framework,
        "assay:state": version.state,
        "assay:risk_tier": version.model.risk_tier,
        "assay:artifact_name": version.artifact_name,
        "assay:artifact_size": version.artifact_size,
        "assay:code_repository": version.code_repository,
        "assay:code_commit": version.code_commit,
    }
    signature = getattr(version, "signature", None) or {}
    if signature:
        facts["assay:signature:method"] = signature.get("method")
        facts["assay:signature:signer"] = signature.get("signer")
        facts["assay:signature:digest"] = signature.get("digest")
    return [(name, str(value)) for name, value in facts.items() if value not in (None, "")]


def _datasets(version: ModelVersion, lineage: Mapping[str, Any], runs: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """bom-ref -> dataset facts: the visible datasets of the upstream lineage (training, and what they came from),
    then each audit's evaluation dataset."""
    found: dict[str, dict[str, Any]] = {}
    training = {f"dataset:{ref['dataset']}/v{ref['version']}" for ref in version.training_datasets}
    made_from: dict[str, set[str]] = {}
    for run in lineage["runs"]:
        for output in run["outputs"]:
            made_from.setdefault(output, set()).update(i for i in run["inputs"] if i.startswith("dataset:"))
    for node in lineage["nodes"]:
        if node.get("hidden") or node["kind"] != DATASET:
            continue
        ref = node["id"]
        found[ref] = {
            "dataset": node["dataset"],
            "version": node["version"],
            "sha256": node["sha256"],
            "roles": {"training"} if ref in training else {"upstream"},
            "derived_from": sorted(made_from.get(ref, ())),
            "facts": {"rows": node["rows"], "location": node["location"]},
        }
    for run in runs:
        dataset = run.dataset_version
        ref = f"dataset:{dataset.dataset.name}/v{dataset.number}"
        item = found.setdefault(
            ref,
            {
                "dataset": dataset.dataset.name,
                "version": dataset.number,
                "sha256": dataset.sha256 or None,
                "roles": set(),
                "derived_from": [],
                "facts": {"rows": dataset.row_count, "location": dataset.external_uri or dataset.file.name or None},
            },
        )
        item["roles"].add("evaluation")
    for item in found.values():
        item["facts"] = {k: v for k, v in item["facts"].items() if v not in (None, "")}
        item["facts"]["role"] = ", ".join(sorted(item["roles"]))
        item["description"] = f"{', '.join(sorted(item['roles'])).capitalize()} data of the model."
        if item["derived_from"]:
            item["description"] += f" Derived from {', '.join(item['derived_from'])}."
    return dict(sorted(found.items()))


def _libraries(runs: Iterable[Any]) -> dict[str, tuple[str, str]]:
    """bom-ref -> (name, version) of every library an audit of the version recorded."""
    found: dict[str, tuple[str, str]] = {}
    for run in runs:
        for name, release in (run.library_versions or {}).items():
            if not name.startswith(_NOT_A_PACKAGE) and isinstance(release, str):
                found[f"pkg:pypi/{name.lower()}@{release}"] = (name, release)
    return dict(sorted(found.items()))


def _model_card(version: ModelVersion, datasets: Mapping[str, Any], runs: Iterable[Any]) -> dict[str, Any]:
    card = version.model_card
    parameters: dict[str, Any] = {
        "datasets": [{"ref": ref} for ref, item in datasets.items() if "training" in item["roles"]],
        "inputs": [{"format": f"{c.get('name')}: {c.get('type', 'unknown')}"} for c in version.input_schema or []],
        "outputs": [{"format": f"{c.get('name')}: {c.get('type', 'unknown')}"} for c in version.output_schema or []],
    }
    architecture = version.artifact_details.get("estimator") or version.artifact_details.get("producer_name")
    if architecture:
        parameters["modelArchitecture"] = str(architecture)
    considerations: dict[str, Any] = {
        "useCases": [text for text in (version.model.intended_use, card.get("intended_use")) if text],
        "technicalLimitations": [
            text
            for text in (
                f"Out of scope: {version.model.out_of_scope_uses}" if version.model.out_of_scope_uses else "",
                card.get("caveats_and_recommendations"),
            )
            if text
        ],
        "ethicalConsiderations": (
            [{"name": card["ethical_considerations"]}] if card.get("ethical_considerations") else []
        ),
    }
    runs = list(runs)
    document: dict[str, Any] = {
        "bom-ref": f"model-card:{version.model.name}/v{version.number}",
        "modelParameters": {key: value for key, value in parameters.items() if value},
        "quantitativeAnalysis": {"performanceMetrics": _performance_metrics(version, runs)},
        "considerations": {key: value for key, value in considerations.items() if value},
        "properties": [
            *({"name": f"assay:model_card:{key}", "value": text} for key, text in card.items() if text),
            *_evaluation_properties(runs),
        ],
    }
    return {key: value for key, value in document.items() if value and value != {"performanceMetrics": []}}


def _performance_metrics(version: ModelVersion, runs: Iterable[Any]) -> list[dict[str, Any]]:
    """The audits' measured figures (overall performance, and each group's rates with their intervals), then the
    metrics registered with the version (``source: registration`` in their slice: they are claims, not audits)."""
    metrics: list[dict[str, Any]] = []
    for run in runs:
        where = f"audit {run.pk} on {run.dataset_version.dataset.name}/v{run.dataset_version.number}"
        checks = (run.results or {}).get("checks", {})
        overall = checks.get("performance", {}).get("overall", {})
        for name, value in sorted(overall.items()):
            if isinstance(value, int | float):
                metrics.append({"type": name, "value": repr(value), "slice": f"{where}: overall"})
        groupings = (run.results or {}).get("group_metrics", {}).get("groupings", {})
        for groups in (groupings[name] for name in sorted(groupings)):
            for group, figures in sorted(groups.items()):
                for name in _GROUP_METRICS:
                    value = figures.get(name)
                    if not isinstance(value, int | float):
                        continue
                    metric: dict[str, Any] = {"type": name, "value": repr(value), "slice": f"{where}: {group}"}
                    interval = figures.get(f"{name}_interval")
                    if isinstance(interval, list) and len(interval) == 2:
                        low, high = interval
                        metric["confidenceInterval"] = {"lowerBound": repr(low), "upperBound": repr(high)}
                    metrics.append(metric)
    for name, value in sorted((version.metrics or {}).items()):
        metrics.append({"type": name, "value": str(value), "slice": "registration (claimed, not audited)"})
    return metrics


def _evaluation_properties(runs: Iterable[Any]) -> list[dict[str, str]]:
    properties = []
    for run in runs:
        prefix = f"assay:audit:{run.pk}"
        policy = run.policy_version
        properties += [
            {"name": f"{prefix}:verdict", "value": run.verdict},
            {"name": f"{prefix}:policy", "value": f"{policy.policy.name}/v{policy.number}"},
            {"name": f"{prefix}:dataset_sha256", "value": run.dataset_version.sha256 or ""},
            {"name": f"{prefix}:results_sha256", "value": run.results_sha256},
            {"name": f"{prefix}:finished_at", "value": run.finished_at.isoformat() if run.finished_at else ""},
        ]
        for check in run.checks.all():
            properties.append({"name": f"{prefix}:check:{check.check_name}", "value": check.outcome})
    return [p for p in properties if p["value"]]
