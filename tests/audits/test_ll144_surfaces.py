"""The NYC Local Law 144 summary of results where people read it: the API (JSON and CSV, with the audit's own access
rules), ``run_audit --ll144-summary DIR``, and the PDF report. Known answers through the engine and the
summary's fields are in test_ll144.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pypdf import PdfReader

from audits.actions import ensure_builtin_policies
from audits.ll144 import cut
from audits.management.commands.run_audit import Command
from audits.models import AuditRun
from audits.reports.service import build_run_report
from governance.trail.log import Actor
from tests.api import assert_error, db_state, events_since, last_seq
from tests.audits.conftest import audit_body, post_audit, predictions_only_version, rows_csv, upload
from tests.audits.ll144_helpers import META, table_of
from tests.conftest import Cast

# --- the API: GET /api/v1/audits/{id}/ll144-summary/ -------------------------------------------------------------


def hiring_rows() -> list[dict[str, str]]:
    """Applicants with sex in ``gender`` (10 left empty: unknown), race in ``race`` (category C: 5 of 605, under
    2%), and the tool's decision; the label agrees with the decision."""
    rows = []
    plan = [("F", "A", 150, 75), ("M", "A", 150, 70), ("F", "B", 150, 66), ("M", "B", 140, 60), ("F", "C", 5, 1)]
    plan.append(("", "A", 10, 5))
    for gender, race, count, selected in plan:
        for i in range(count):
            decision = "1" if i < selected else "0"
            rows.append(
                {"id": f"{gender}{race}{i}", "gender": gender, "race": race, "label": decision, "decision": decision}
            )
    return rows


LL144_ROLES = {
    "label": "label",
    "protected": {"sex": "gender", "race_ethnicity": "race"},
    "prediction": "decision",
    "exclusions": {"race_ethnicity=C": "C is 5 of 605 applicants (0.8%): too few for a ratio to mean anything."},
}


@pytest.fixture
def ll144_run(
    cast: Cast, media_root: Any, builtin_policies_stored: None, django_capture_on_commit_callbacks: Any
) -> Any:
    """A completed nyc-ll144 audit of the credit-risk team's model on ``hiring_rows``."""
    version, dataset = predictions_only_version(cast), upload(cast, hiring_rows())
    with django_capture_on_commit_callbacks(execute=True):
        response = post_audit(cast.owner, audit_body(version, dataset, policy="nyc-ll144", roles=LL144_ROLES))
    assert response.status_code == 201, response.content
    run = AuditRun.objects.get(pk=response.json()["id"])
    assert run.status == "done", run.error
    return run


def summary_url(run: AuditRun, query: str = "") -> str:
    return f"/api/v1/audits/{run.pk}/ll144-summary/{query}"


def test_the_api_gives_the_summary_of_a_run_as_json_and_csv(cast: Cast, ll144_run: AuditRun) -> None:
    before, seq = db_state(), last_seq()
    response = cast.owner.client().get(summary_url(ll144_run, "?" + urlencode(META)))

    assert response.status_code == 200, response.content
    summary = response.json()
    assert (db_state(), [e.action for e in events_since(seq)]) == (before, [])  # a read writes nothing
    assert [t["kind"] for t in summary["tables"]] == ["sex", "race_ethnicity", "intersectional"]
    assert summary["audit"]["id"] == ll144_run.pk
    assert summary["audit"]["date_of_audit"] == ll144_run.finished_at.date().isoformat()
    assert summary["unknown_category"]["by_table"]["sex"] == 10
    assert summary["unknown_category"]["individuals"] == 10
    assert summary["excluded_categories"] == [
        {
            "table": "race_ethnicity",
            "category": "C",
            "applicants": 5,
            "rate_exact": "1/5",
            "rate_percent": "20.0%",
            "justification": LL144_ROLES["exclusions"]["race_ethnicity=C"],
        }
    ]
    sex = table_of(summary, "sex")
    assert (sex["F"]["applicants"], sex["F"]["selected"], sex["M"]["applicants"], sex["M"]["selected"]) == (
        305,
        142,
        290,
        130,
    )
    assert sex["M"]["impact_ratio_exact"] == fraction_of(Fraction(130, 290) / Fraction(142, 305))
    assert summary["missing"] == []
    assert summary["independent_auditor"]["statement"] == META["auditor_statement"]

    as_csv = cast.owner.client().get(summary_url(ll144_run, "?format=csv"))
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8"))))
    assert ("sex", "(unknown category)", "10") in [(r["table"], r["category"], r["applicants"]) for r in rows]


def fraction_of(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def test_the_summary_follows_the_audits_own_access_rules(cast: Cast, ll144_run: AuditRun, anonymous: Any) -> None:
    for member in (cast.owner, cast.reviewer, cast.officer, cast.regulator, cast.read_only):
        detail = member.client().get(f"/api/v1/audits/{ll144_run.pk}/").status_code
        assert member.client().get(summary_url(ll144_run)).status_code == detail
    assert cast.officer.client().get(summary_url(ll144_run)).status_code == 200
    assert_error(cast.outsider.client().get(summary_url(ll144_run)), 404, "not_found")
    assert_error(anonymous.get(summary_url(ll144_run)), 401, "not_authenticated")
    assert_error(cast.owner.client().get("/api/v1/audits/999999/ll144-summary/"), 404, "not_found")


def test_without_the_auditors_fields_the_summary_lists_them_as_missing(cast: Cast, ll144_run: AuditRun) -> None:
    summary = cast.owner.client().get(summary_url(ll144_run, "?data_type=test")).json()

    assert [m["field"] for m in summary["missing"]] == [
        "distribution_date",
        "data_source",
        "data_explanation",
        "test_data_explanation",
        "auditor_name",
        "auditor_statement",
    ]


def test_bad_fields_and_unknown_parameters_are_refused_naming_them(cast: Cast, ll144_run: AuditRun) -> None:
    error = assert_error(cast.owner.client().get(summary_url(ll144_run, "?distribution_date=March")), 422)
    assert "not a date written YYYY-MM-DD" in error["message"]
    error = assert_error(cast.owner.client().get(summary_url(ll144_run, "?auditor=Someone")), 422)
    assert "Unknown parameter 'auditor'" in error["message"]
    as_csv = cast.owner.client().get(summary_url(ll144_run, "?format=csv&data_type=synthetic"))
    assert as_csv.status_code == 422
    assert as_csv.content.decode().startswith("error: ll144.data_type: 'synthetic' is neither")


def test_a_run_that_is_not_done_has_no_summary_yet(cast: Cast, media_root: Any, builtin_policies_stored: None) -> None:
    version, dataset = predictions_only_version(cast), upload(cast, hiring_rows())
    response = post_audit(cast.owner, audit_body(version, dataset, policy="nyc-ll144", roles=LL144_ROLES))
    assert response.json()["status"] == "queued"  # no commit in this test, so the job has not run

    error = assert_error(cast.owner.client().get(f"/api/v1/audits/{response.json()['id']}/ll144-summary/"), 409)
    assert error["code"] == "ll144_summary_unavailable"
    assert "needs a completed audit" in error["message"]


# --- run_audit --ll144-summary DIR ------------------------------------------------------------------------------


def run_command(*args: str) -> tuple[int, str, str]:
    """``manage.py run_audit`` as the command line runs it: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    command = Command(stdout=out, stderr=err)
    try:
        command.run_from_argv(["manage.py", "run_audit", "--skip-checks", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def command_ready(cast: Cast, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stored files in this test's directory, the built-in policies stored, the test's connection kept open, and the
    hiring data, its exclusions and the auditor's fields as files; returns the directory."""
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_builtin_policies()
    (tmp_path / "hiring.csv").write_bytes(rows_csv(hiring_rows()))
    (tmp_path / "exclusions.json").write_text(json.dumps(LL144_ROLES["exclusions"]), encoding="utf-8")
    (tmp_path / "meta.json").write_text(json.dumps(META), encoding="utf-8")
    return tmp_path


def hiring_args(folder: Path, *more: str) -> tuple[str, ...]:
    return (
        "--as",
        "omar",
        "--data",
        str(folder / "hiring.csv"),
        "--label",
        "label",
        "--prediction",
        "decision",
        "--protected",
        "sex=gender,race_ethnicity=race",
        "--exclusions",
        str(folder / "exclusions.json"),
        "--policy",
        "nyc-ll144",
        *more,
    )


def test_run_audit_writes_the_summary_as_json_and_csv(command_ready: Path) -> None:
    target = command_ready / "out" / "ll144"

    code, out, err = run_command(
        *hiring_args(
            command_ready, "--json", "--ll144-summary", str(target), "--ll144-meta", str(command_ready / "meta.json")
        )
    )

    assert code in (0, 1, 2), err
    run = json.loads(out)
    assert f"LL144 summary of audit {run['id']}:" in err
    summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    assert summary["audit"]["id"] == run["id"]
    assert summary["missing"] == []
    assert summary["aedt"]["distribution_date"] == META["distribution_date"]
    assert summary["excluded_categories"][0]["category"] == "C"
    assert summary["unknown_category"]["individuals"] == 10
    table = list(csv.DictReader(io.StringIO((target / "summary.csv").read_text(encoding="utf-8"))))
    assert [r["category"] for r in table if r["table"] == "sex"] == ["F", "M", "(unknown category)"]


def test_run_audit_refuses_ll144_options_it_cannot_honour_before_writing_anything(command_ready: Path) -> None:
    bad_meta = command_ready / "bad.json"
    bad_meta.write_text(json.dumps({"data_type": "synthetic"}), encoding="utf-8")
    cases = (
        (("--ll144-meta", str(command_ready / "meta.json")), "add --ll144-summary DIR"),
        (
            ("--ll144-summary", str(command_ready / "s"), "--ll144-meta", str(bad_meta)),
            "neither 'historical' nor 'test'",
        ),
        (("--ll144-summary", str(command_ready / "hiring.csv")), "not a directory"),
        (
            ("--ll144-summary", str(command_ready / "s"), "--ll144-meta", str(command_ready / "none.json")),
            "Cannot read",
        ),
    )
    for more, words in cases:
        before = db_state()
        code, _, err = run_command(*hiring_args(command_ready, *more))
        assert (code, db_state()) == (3, before), err
        assert words in err
    assert not (command_ready / "s").exists()


# --- the PDF report ------------------------------------------------------------------------------------------


def test_the_pdf_report_lays_out_the_same_summary(cast: Cast, ll144_run: AuditRun) -> None:
    reader = PdfReader(io.BytesIO(build_run_report(ll144_run, actor=Actor.for_user(cast.owner.user)).read_bytes()))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))
    section = text[text.index(f"Bias audit summary (NYC Local Law 144; run #{ll144_run.pk})") :]

    for title in ("Sex categories", "Race/Ethnicity categories", "Intersectional categories"):
        assert f"{title} (run #{ll144_run.pk})" in section
    assert "Category Number of applicants Number selected Selection rate Impact ratio Note" in section
    # Female applicants are the most selected sex (142 of 305); male: 130 of 290.
    assert "F 305 142 46.6% (142/305) 1.000 (1) reference category" in section
    ratio = Fraction(130, 290) / Fraction(142, 305)
    assert f"M 290 130 44.8% (13/29) {cut(ratio)} ({fraction_of(ratio)})" in section
    # The excluded category: its count and rate, no ratio, and the auditor's justification.
    assert "C 5 1 20.0% (1/5) n/a excluded from the impact ratio calculations" in section
    assert "Justification: C is 5 of 605 applicants (0.8%)" in section
    assert "Individuals in an unknown category 10 (unknown sex or race/ethnicity; in no calculation)" in section
    assert "Unknown category: 10 individuals; not included in the calculations above." in section
    assert "most selected category among the categories judged (at least 30 applicants and not excluded): F." in section
    # The auditor's fields are not stored with a run: named as not given, never made up.
    assert "Not given in this report" in section
    assert "the AEDT's distribution date (YYYY-MM-DD) (6 RCNY § 5-303(a))" in section
    assert "does not assess or assert independence" in section
