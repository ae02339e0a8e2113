"""The opening pages of the report: the cover (verdict, model, runs, signer), the table of contents and the
executive summary in plain words (what failed, lacked evidence or passed, and why it matters)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.checks import registry
from audits.reports.document.builder import OUTCOME_WORDS, _Builder, esc, fmt_number
from audits.reports.document.checks import check_title


def why_it_matters(name: str) -> str:
    """Why a check matters, in plain words, for the executive summary (its ``why_it_matters`` in
    ``audits.checks.registry``); "" when it says nothing."""
    spec = registry.find(name)
    return spec.why_it_matters if spec else ""


def _cover(b: _Builder, ctx: Mapping[str, Any]) -> None:
    from reportlab.platypus import PageBreak, Spacer

    model, version = ctx["model"], ctx["version"]
    b.story.append(Spacer(1, 30 * b.mm))
    b.para("Assay compliance report", "small")
    b.para(esc(ctx["title"]), "title")
    b.para(f"Verdict: {b.outcome(ctx['verdict'])}", "verdict")
    rows: list[tuple[str, Any]] = [
        ("Model", model["name"]),
        ("Version", f"v{version['number']} ({version['state']})"),
        ("Risk tier (EU AI Act)", model["risk_tier_label"]),
        ("Team", model["team"]),
    ]
    for run in ctx["runs"]:
        rows.append(("Audit run", f"#{run['id']}: {OUTCOME_WORDS.get(run['verdict'], run['verdict'])}"))
        rows.append(
            ("Policy and version", f"{run['policy']['name']} v{run['policy']['version']}: {run['policy']['title']}")
        )
    if not ctx["runs"]:
        rows.append(("Audit runs", "none completed"))
    rows += [
        ("Date", ctx["generated_at"]),
        ("Report id", ctx["report_id"]),
        ("Requested by", ctx["generated_by"]),
        ("Signed by", f"{ctx['signer']['name']} (PAdES; certificate SHA-256 below)"),
    ]
    b.pairs(rows)
    b.para("Signing certificate SHA-256:", "small")
    b.para(esc(ctx["signer"]["certificate_sha256"]), "mono")
    b.story.append(Spacer(1, 8))
    b.para(
        "This document is signed. Validate it offline with the signing certificate, e.g. "
        "<i>pyhanko sign validate --trust cert.pem --no-revocation-check report.pdf</i>. Any change to the signed "
        "bytes makes the validation fail.",
        "small",
    )
    b.story.append(PageBreak())


def _contents(b: _Builder) -> None:
    from reportlab.platypus import PageBreak, Paragraph
    from reportlab.platypus.tableofcontents import TableOfContents

    b.story.append(Paragraph("Contents", b.styles["title"]))
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [b.styles["toc1"], b.styles["toc2"]]
    b.story.append(toc)
    b.story.append(PageBreak())


def _checks_by_outcome(ctx: Mapping[str, Any]) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    found: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
        "pass": [],
        "fail": [],
        "insufficient_evidence": [],
    }
    for run in ctx["runs"]:
        for check in run["checks"]:
            found.setdefault(check["outcome"], []).append((run, check))
    return found


def _summary(b: _Builder, ctx: Mapping[str, Any]) -> None:
    b.h1("Executive summary")
    model, version = ctx["model"], ctx["version"]
    runs = ctx["runs"]
    if not runs:
        b.para(
            f"{esc(model['name'])} v{version['number']} has no completed audit run, so there is no evidence for or "
            "against it yet. The verdict is <b>insufficient evidence</b>."
        )
    for run in runs:
        b.para(
            f"Audit run #{run['id']} applied the policy <b>{esc(run['policy']['name'])} "
            f"v{run['policy']['version']}</b> to <b>{esc(model['name'])} v{version['number']}</b> on the dataset "
            f"{esc(run['dataset'])} ({fmt_number(run['rows'])} rows), finished {esc(run['finished_at'])}. "
            f"Verdict: {b.outcome(run['verdict'])}."
        )
    grouped = _checks_by_outcome(ctx)
    many = len(runs) > 1
    labels = {
        "pass": "What passed",
        "fail": "What failed, and why it matters",
        "insufficient_evidence": "What lacked evidence, and why it matters",
    }
    for outcome in ("fail", "insufficient_evidence", "pass"):
        b.h2(labels[outcome])
        entries = grouped.get(outcome) or []
        if not entries:
            b.text("Nothing.")
            continue
        for run, check in entries:
            title = check_title(check["name"])
            where = f" (run #{run['id']}, {esc(run['policy']['name'])})" if many else ""
            required = "" if check["required"] else " (optional check)"
            b.para(f"<b>{esc(title)}</b>{where}{required}: {esc(check['reason'])}")
            why = why_it_matters(check["name"])
            if outcome != "pass" and why:
                b.para(f"<i>Why it matters:</i> {esc(why)}", "small")
        if outcome == "insufficient_evidence":
            b.para(
                "Insufficient evidence is never a pass: the audit could not judge these (a group too small, an "
                "interval too wide, a check that cannot run for this model). More data, or a model artifact the "
                "check can score, gives an answer.",
                "small",
            )
    open_findings = [f for f in ctx.get("findings", []) if f["status"] == "open"]
    if open_findings:
        b.h2("Open findings")
        b.table(
            ["Opened", "Kind", "Finding"],
            [(f["opened_at"], f["kind"], f["title"]) for f in open_findings],
            widths=(0.22, 0.18, 0.6),
        )
