"""The report's evidence around the audit runs: the model card, data and lineage (datasets, lineage runs, consent
coverage), approvals, deployments and findings, and the trail events with the checkpoint that covers them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from audits.reports.document.builder import _Builder, fmt_number


def _model_card(b: _Builder, ctx: Mapping[str, Any]) -> None:
    model, version = ctx["model"], ctx["version"]
    b.h1("Model card")
    b.h2("Purpose and use")
    b.pairs(
        [
            ("Model", model["name"]),
            ("Team", model["team"]),
            ("Purpose", model["purpose"]),
            ("Intended use", model["intended_use"] or "(not stated)"),
            ("Out-of-scope uses", model["out_of_scope_uses"] or "(not stated)"),
            ("Business KPIs", ", ".join(map(str, model["business_kpis"])) or "(none)"),
        ]
    )
    b.h2("Risk classification")
    b.pairs([("Risk tier", model["risk_tier_label"]), ("Rationale", model["risk_rationale"])])
    if model.get("risk_answers"):
        b.table(
            ["Question", "Answer"],
            [
                (k.replace("_", " "), json.dumps(v) if not isinstance(v, str) else v)
                for k, v in model["risk_answers"].items()
            ],
            widths=(0.5, 0.5),
        )
    b.h2(f"Version {version['number']}")
    b.pairs(
        [
            ("State", version["state"]),
            ("Framework", version["framework"]),
            ("Artifact", version["artifact_name"] or "(none: predictions only)"),
            ("Artifact SHA-256", version["artifact_sha256"] or "n/a"),
            ("Artifact size", fmt_number(version["artifact_size"]) + " bytes" if version["artifact_size"] else "n/a"),
            ("Code", f"{version['code_repository']} {version['code_commit']}".strip() or "(not recorded)"),
            ("Registered", f"{version['created_at']} by {version['created_by']}"),
            (
                "Hyperparameters",
                json.dumps(version["hyperparameters"], sort_keys=True) if version["hyperparameters"] else "(none)",
            ),
            ("Declared metrics", json.dumps(version["metrics"], sort_keys=True) if version["metrics"] else "(none)"),
        ]
    )
    card = version.get("model_card") or {}
    b.h3("Model card sections (Mitchell et al., 2019)")
    rows = []
    for section in version.get("model_card_sections") or card.keys():
        value = card.get(section)
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True, ensure_ascii=False)
        rows.append((section.replace("_", " "), value or "(empty)"))
    b.table(["Section", "Content"], rows, widths=(0.28, 0.72))


def _data(b: _Builder, ctx: Mapping[str, Any]) -> None:
    data = ctx["data"]
    b.h1("Data and lineage")
    b.h2("Datasets")
    b.table(
        ["Role", "Dataset version", "Rows", "SHA-256", "Source, licence"],
        [
            (
                d["role"],
                d["id"],
                fmt_number(d["rows"]),
                d["sha256"] or d.get("location") or "n/a",
                ", ".join(x for x in (d.get("source"), d.get("licence")) if x) or "(not recorded)",
            )
            for d in data["datasets"]
        ],
        widths=(0.11, 0.22, 0.08, 0.37, 0.22),
        mono_columns=(3,),
    )
    b.h2("Lineage runs")
    b.table(
        ["Job", "Source", "Ended", "Inputs", "Outputs"],
        [
            (r["job"], r["source"], r["ended_at"] or "", ", ".join(r["inputs"]) or "-", ", ".join(r["outputs"]) or "-")
            for r in data["lineage_runs"]
        ],
        widths=(0.22, 0.1, 0.2, 0.24, 0.24),
    )
    b.h2("Consent coverage")
    b.para(
        "Counts of data subjects only, never who. Coverage over fewer than "
        f"{data['coverage_floor']} subjects is withheld here, because counts that small could identify a person "
        "(COVERAGE_MIN_SUBJECTS).",
        "small",
    )
    rows = []
    for d in data["datasets"]:
        for c in d.get("coverage") or []:
            if c.get("withheld"):
                rows.append((d["id"], c["purpose"], f"fewer than {data['coverage_floor']}", "withheld", "", "", ""))
            else:
                rows.append(
                    (
                        d["id"],
                        c["purpose"],
                        fmt_number(c["subjects"]),
                        fmt_number(c["consenting"]),
                        fmt_number(c["withdrawn"]),
                        fmt_number(c["expired"]),
                        fmt_number(c["never_asked"]),
                    )
                )
        if not d.get("coverage"):
            rows.append(
                (d["id"], "-", d.get("coverage_note") or "no subject-id column: subjects not known", "", "", "", "")
            )
    b.table(
        ["Dataset version", "Purpose", "Subjects", "Consenting", "Withdrawn", "Expired", "Never asked"],
        rows,
        widths=(0.22, 0.16, 0.16, 0.12, 0.11, 0.1, 0.13),
    )


def _approvals(b: _Builder, ctx: Mapping[str, Any]) -> None:
    approvals = ctx["approvals"]
    b.h1("Approvals and sign-offs")
    b.table(
        ["What", "Who", "Role", "When", "Detail"],
        [(a["what"], a["name"], a["role"], a["at"], a.get("detail", "")) for a in approvals["events"]],
        widths=(0.18, 0.16, 0.12, 0.24, 0.3),
    )
    b.para(
        f"Approvals required for this risk tier: {approvals['required']}. Separation of duties: the submitter "
        "never approves their own version.",
        "small",
    )
    b.h2("Deployments")
    b.table(
        ["Environment", "Deployed", "By", "Retired"],
        [(d["environment"], d["deployed_at"], d["by"], d["retired_at"] or "live") for d in approvals["deployments"]],
        widths=(0.2, 0.3, 0.2, 0.3),
    )
    b.h2("Findings")
    b.table(
        ["Opened", "Kind", "Finding", "Status"],
        [
            (
                f["opened_at"],
                f["kind"],
                f["title"],
                f["status"] + (f" ({f['resolution']})" if f.get("resolution") else ""),
            )
            for f in ctx.get("findings", [])
        ],
        widths=(0.22, 0.16, 0.44, 0.18),
    )


def _trail(b: _Builder, ctx: Mapping[str, Any]) -> None:
    trail = ctx["trail"]
    b.h1("Audit trail events")
    b.para(
        "Each event is a leaf of Assay's append-only Merkle log (RFC 9162 hashing). The leaf hash is "
        "SHA-256(0x00 || leaf bytes); the checkpoint below is signed and covers every event listed, so an inclusion "
        "proof (GET /api/v1/trail/proofs/inclusion?seq=N&amp;tree_size=SIZE) proves each one against its root.",
        "small",
    )
    b.table(
        ["Seq", "Time (UTC)", "Action", "Object", "Leaf hash (SHA-256)"],
        [(e["seq"], e["time"], e["action"], e["object"], e["leaf_hash"]) for e in trail["events"]],
        widths=(0.06, 0.17, 0.15, 0.14, 0.48),
        mono_columns=(4,),
    )
    checkpoint = trail.get("checkpoint")
    b.h2("Checkpoint")
    if checkpoint is None:
        b.text("No checkpoint covers these events yet.")
        return
    b.pairs(
        [
            ("Tree size", fmt_number(checkpoint["tree_size"])),
            ("Root hash (hex)", checkpoint["root_hash"]),
            ("Issued", checkpoint["issued_at"]),
        ],
        mono_values=True,
    )
    from reportlab.platypus import Preformatted

    b.para("The signed checkpoint (C2SP signed note), verbatim:", "small")
    b.story.append(Preformatted(checkpoint["note"], b.styles["mono"]))
