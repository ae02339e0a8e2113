"""``manage.py run_audit``: the same audits as the API, from the command line, with the verdict as exit status
(0 pass, 1 fail, 2 insufficient evidence, 3 error).

The command is run as the command line runs it (``run_from_argv``), so argparse's usage errors, Django's
CommandError handling and the exit codes are the real ones. Django closes the database connections when a
command-line command ends; that would end the test's transaction, so only that is switched off here.

In tests no transaction commits, so ``do_start_audit``'s on-commit job never runs: the command finds its run still
queued and executes it itself, the path it takes with a broker.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fairlearn import metrics as fl

from audits.actions import ensure_builtin_policies
from audits.management.commands.run_audit import Command
from audits.models import AuditRun
from governance.data.demo import german_credit_csv
from governance.data.models import Dataset, DatasetVersion
from registry.models import Framework, ModelVersion, RegisteredModel
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.registry.conftest import RISK_ANSWERS

RATES = ("selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate", "true_negative_rate")


@dataclass
class Exit:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


@pytest.fixture
def ready(cast: Cast, settings: Any, tmp_path: Path) -> Cast:
    """The cast, stored files in a directory of this test's own, and the built-in policies already stored (so a
    refused command can be shown to change nothing)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    ensure_builtin_policies()
    return cast


@pytest.fixture
def run_audit(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> Exit:
        capsys.readouterr()
        command = Command()  # made here, so it writes to pytest's captured streams
        try:
            command.run_from_argv(["manage.py", "run_audit", "--skip-checks", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return Exit(code=code, out=captured.out, err=captured.err)

    return run


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def german_rows() -> tuple[list[str], list[dict[str, str]]]:
    """UCI German Credit with an age group (25 or younger) and a rule's decision that favours older applicants:
    approve (1) with a positive checking balance (A13, A14), or a loan of at most 24 months to someone over 25."""
    reader = csv.DictReader(io.StringIO(german_credit_csv().decode("ascii")))
    rows = []
    for row in reader:
        older = int(row["age"]) > 25
        row["age_group"] = "over_25" if older else "25_or_younger"
        approve = row["checking_status"] in ("A13", "A14") or (int(row["duration_months"]) <= 24 and older)
        row["approved"] = "1" if approve else "2"
        rows.append(row)
    return [*(reader.fieldnames or []), "age_group", "approved"], rows


@pytest.fixture
def german(tmp_path: Path) -> Path:
    header, rows = german_rows()
    return write_csv(tmp_path / "german_credit.csv", header, [[row[c] for c in header] for row in rows])


def german_args(path: Path, *more: str) -> tuple[str, ...]:
    return (
        "--as",
        "omar",
        "--data",
        str(path),
        "--label",
        "credit_risk",
        "--prediction",
        "approved",
        "--protected",
        "age_group",
        *more,
    )


def close_rows(count: int = 200) -> list[list[Any]]:
    """Two groups of equal size and base rate (60% favourable), the model wrong on 10% of group a and 15% of b."""
    rows = []
    for i in range(count):
        group, k = ("a" if i % 2 else "b"), i // 2
        label = 1 if k % 5 < 3 else 0
        wrong = k % 10 == 0 or (group == "b" and k % 20 == 5)
        rows.append([f"P{i:04d}", group, label, 1 - label if wrong else label])
    return rows


def small_args(path: Path, *more: str) -> tuple[str, ...]:
    return (
        "--as",
        "omar",
        "--data",
        str(path),
        "--label",
        "outcome",
        "--prediction",
        "decision",
        "--protected",
        "group",
        *more,
    )


SMALL_HEADER = ["person", "group", "outcome", "decision"]


# --- exit codes ------------------------------------------------------------------------------------------------


def test_small_differences_pass_the_baseline_with_exit_0(ready: Cast, run_audit: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "close.csv", SMALL_HEADER, close_rows())

    result = run_audit(*small_args(path))

    assert result.code == 0, result.err
    assert result.out.startswith(f"Audit {AuditRun.objects.get().pk}: pass")
    assert "group_fairness: pass (not required): Every group-fairness threshold is met" in result.out
    assert "disparate_impact: pass" in result.out


def test_an_age_gap_fails_four_fifths_with_exit_1(ready: Cast, run_audit: Any, german: Path) -> None:
    result = run_audit(*german_args(german, "--policy", "four-fifths"))

    assert result.code == 1, result.err
    run = AuditRun.objects.get()
    assert (run.status, run.verdict) == ("done", "fail")
    assert f"Audit {run.pk}: fail" in result.out
    assert "age_group=25_or_younger: impact ratio 0.369 against age_group=over_25 is below 0.8" in result.out
    assert "disparate_impact: fail (required)" in result.out


def test_groups_below_the_minimum_size_are_insufficient_evidence_with_exit_2(
    ready: Cast, run_audit: Any, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "tiny.csv", SMALL_HEADER, close_rows(16))

    result = run_audit(*small_args(path), "--policy", "four-fifths")

    assert result.code == 2, result.err
    assert AuditRun.objects.get().verdict == "insufficient_evidence"
    assert "large enough to compare" in result.out


def test_a_missing_label_column_is_an_error_with_exit_3_naming_the_columns(
    ready: Cast, run_audit: Any, german: Path
) -> None:
    before, seq = db_state(), last_seq()

    result = run_audit(*german_args(german), "--label", "outcome")

    assert result.code == 3
    assert "no column named 'outcome'" in result.err
    assert "Columns: applicant_id, checking_status, duration_months," in result.err
    assert result.out == ""
    assert db_state() == before  # checked before anything was registered
    assert events_since(seq) == []


def test_an_audit_that_ends_in_error_exits_3_with_its_reason(ready: Cast, run_audit: Any, tmp_path: Path) -> None:
    rows = [[*row, 0.25 + 0.5 * row[3]] for row in close_rows()]  # scores in [0.25, 0.75]
    path = write_csv(tmp_path / "scores.csv", ["person", "group", "outcome", "decision", "score"], rows)

    args = ("--as", "omar", "--data", str(path), "--label", "outcome", "--protected", "group", "--score", "score")
    result = run_audit(*args, "--threshold", "2")

    assert result.code == 3
    run = AuditRun.objects.get()
    assert run.status == "error"
    assert f"Audit {run.pk} ended in error: threshold: 2.0 is outside the scores' range [0.25, 0.75]" in result.err
    assert f"Audit {run.pk}: error" in result.out

    as_json = run_audit(*args, "--threshold", "2", "--json")  # a run in error is not reused: this is a new one

    assert as_json.code == 3
    document = as_json.json()
    assert (document["status"], document["verdict"], document["group_metrics"]) == ("error", "", None)
    assert document["error"] == run.error


# --- ad hoc registration ---------------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "datasets": Dataset.objects.count(),
        "dataset_versions": DatasetVersion.objects.count(),
        "models": RegisteredModel.objects.count(),
        "model_versions": ModelVersion.objects.count(),
        "runs": AuditRun.objects.count(),
    }


def test_an_ad_hoc_file_is_registered_once_and_reused(ready: Cast, run_audit: Any, german: Path) -> None:
    seq = last_seq()

    first = run_audit(*german_args(german))

    assert first.code == 1, first.err  # the baseline flags the age gap too
    assert counts() == {"datasets": 1, "dataset_versions": 1, "models": 1, "model_versions": 1, "runs": 1}
    version = ModelVersion.objects.select_related("model__team").get()
    dataset_version = DatasetVersion.objects.select_related("dataset").get()
    assert (version.model.name, dataset_version.dataset.name) == ("german-credit", "german-credit")
    assert version.model.team.slug == "credit-risk"  # omar's only team
    assert (version.framework, version.model.risk_tier) == (Framework.PREDICTIONS, "minimal")
    assert dataset_version.label_column == "credit_risk"
    recorded = [(e.action, e.actor_user_id) for e in events_since(seq)]
    omar = ready.owner.user.pk
    assert recorded[:5] == [
        ("dataset.registered", omar),
        ("dataset_version.registered", omar),
        ("model.registered", omar),
        ("model_version.registered", omar),
        ("audit.started", omar),
    ]

    again = run_audit(*german_args(german))

    assert again.code == 1
    assert counts() == {"datasets": 1, "dataset_versions": 1, "models": 1, "model_versions": 1, "runs": 1}
    assert "(an earlier run of the same inputs; --force runs them again)" in again.out

    forced = run_audit(*german_args(german, "--force"))

    assert forced.code == 1
    assert counts() == {"datasets": 1, "dataset_versions": 1, "models": 1, "model_versions": 1, "runs": 2}


def test_new_bytes_make_a_new_dataset_version_and_predictions_only_version(
    ready: Cast, run_audit: Any, german: Path
) -> None:
    assert run_audit(*german_args(german)).code == 1
    german.write_bytes(german.read_bytes() + b"\n")  # same table, other bytes: another dataset version

    assert run_audit(*german_args(german)).code == 1

    assert counts() == {"datasets": 1, "dataset_versions": 2, "models": 1, "model_versions": 2, "runs": 2}
    run = AuditRun.objects.select_related("model_version", "dataset_version").order_by("-id").first()
    assert run is not None
    assert (run.model_version.number, run.dataset_version.number) == (2, 2)


def test_a_user_in_no_team_must_name_the_team(ready: Cast, run_audit: Any, german: Path) -> None:
    refused = run_audit(*german_args(german)[2:], "--as", "ci-bot")
    assert refused.code == 3
    assert "Name the team that owns the new dataset and model with --team SLUG" in refused.err

    accepted = run_audit(*german_args(german)[2:], "--as", "ci-bot", "--team", "hiring", "--model", "credit-rule")

    assert accepted.code == 1, accepted.err
    assert RegisteredModel.objects.get().team.slug == "hiring"
    assert Dataset.objects.get().team.slug == "hiring"


# --- the same results as the API -------------------------------------------------------------------------------

# What differs between two runs of the same inputs: who, when, and the run's id.
PER_RUN = {"id", "created_at", "started_at", "finished_at", "duration_seconds", "forced", "created_by"}


def test_run_audit_and_the_api_produce_the_same_results(
    ready: Cast, run_audit: Any, german: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from_command = run_audit(*german_args(german, "--json")).json()
    client = ready.owner.client()
    request = {
        "model": from_command["model"],
        "version": from_command["version"],
        "dataset": from_command["dataset"],
        "dataset_version": from_command["dataset_version"],
        "policy": "baseline",
        "column_roles": {"label": "credit_risk", "prediction": "approved", "protected": ["age_group"]},
        "force": True,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/audits/", request, format="json")
    assert response.status_code == 201, response.content
    from_api = client.get(f"/api/v1/audits/{response.json()['id']}/").json()
    registered = run_audit(
        "--as",
        "omar",
        "--model",
        "german-credit",
        "--version",
        "1",
        "--dataset",
        "german-credit",
        "--dataset-version",
        "1",
        "--label",
        "credit_risk",
        "--prediction",
        "approved",
        "--protected",
        "age_group",
        "--force",
        "--json",
    ).json()

    assert AuditRun.objects.count() == 3
    assert from_api["status"] == "done"
    assert set(from_command) == set(from_api) | {"group_metrics"}
    same = [{k: v for k, v in run.items() if k not in PER_RUN | {"group_metrics"}} for run in (from_api, registered)]
    assert same[0] == same[1] == {k: v for k, v in from_command.items() if k not in PER_RUN | {"group_metrics"}}
    assert from_api["verdict"] == "fail"
    assert [c["check"] for c in from_api["checks"]] == [
        "data_quality",
        "disparate_impact",
        "group_fairness",
        "performance",
    ]


# --- --json and fairlearn ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["baseline", "four-fifths"])
def test_json_exposes_per_group_metrics_equal_to_fairlearn(
    ready: Cast, run_audit: Any, german: Path, policy: str
) -> None:
    result = run_audit(*german_args(german, "--policy", policy, "--json"))

    assert result.code == 1
    document = result.json()
    assert document["status"] == "done"
    assert document["group_metrics"]["source"] == "recorded"  # every run records them, whatever its policy
    groups = document["group_metrics"]["groupings"]["age_group"]
    _, rows = german_rows()
    frame = fl.MetricFrame(
        metrics={name: getattr(fl, name) for name in RATES},
        y_true=[int(row["credit_risk"] == "1") for row in rows],
        y_pred=[int(row["approved"] == "1") for row in rows],
        sensitive_features=[row["age_group"] for row in rows],
    )
    assert set(groups) == {"age_group=25_or_younger", "age_group=over_25"}
    for value in ("25_or_younger", "over_25"):
        ours = groups[f"age_group={value}"]
        assert ours["count"] == sum(row["age_group"] == value for row in rows)
        for name in RATES:
            assert ours[name] == pytest.approx(float(frame.by_group.loc[value, name]), abs=1e-9), (value, name)


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("--as", "nobody"), "There is no active user named 'nobody'."),
        (("--as", "rhea"), "Only admin, ci, officer, owner may run audits; you are reviewer."),
        (("--score", "duration_months", "--threshold", "12"), "Give a prediction column or a score column, not both."),
        (("--policy", "no-such-policy"), "Unknown policy 'no-such-policy'. Policies: baseline, eu-ai-act-high-risk,"),
        (("--policy", "four-fifths", "--policy-version", "9"), "four-fifths has no version 9."),
        (("--reference", "over_25"), "--reference 'over_25': write it as ATTRIBUTE=VALUE"),
        (("--version", "1"), "--version names a registered version; with --data the versions are found"),
        (("--data", "/no/such/file.csv"), "Cannot read /no/such/file.csv: no such file."),
        (("--protected", "age_band"), "no column named 'age_band'"),
        (("--label", ""), "--label: This field may not be blank."),
    ],
)
def test_bad_input_exits_3_with_a_message_and_changes_nothing(
    ready: Cast, run_audit: Any, german: Path, change: tuple[str, ...], words: str
) -> None:
    before, seq = db_state(), last_seq()

    result = run_audit(*german_args(german), *change)  # the later option wins

    assert result.code == 3
    assert words in result.err
    assert db_state() == before
    assert events_since(seq) == []


def test_a_score_needs_a_threshold(ready: Cast, run_audit: Any, tmp_path: Path) -> None:
    rows = [[*row, 0.5 * row[3]] for row in close_rows()]
    path = write_csv(tmp_path / "scores.csv", ["person", "group", "outcome", "decision", "score"], rows)

    result = run_audit(
        "--as", "omar", "--data", str(path), "--label", "outcome", "--protected", "group", "--score", "score"
    )

    assert result.code == 3
    assert "--threshold: A score column needs a decision threshold." in result.err


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "is empty"), (b"\xff\xfe\x00a\x00,\x00b", "UTF-16")],
)
def test_an_unreadable_file_exits_3(ready: Cast, run_audit: Any, tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = db_state()

    result = run_audit(*small_args(path))

    assert result.code == 3
    assert words in result.err
    assert db_state() == before


def test_usage_errors_exit_3_not_argparse_2(ready: Cast, run_audit: Any, german: Path) -> None:
    result = run_audit("--as", "omar", "--data", str(german), "--prediction", "approved")

    assert result.code == 3
    assert "the following arguments are required: --label, --protected" in result.err
    assert result.err.startswith("usage: manage.py run_audit")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ("--model", "no-such-model", "--version", "1", "--dataset", "german-credit", "--dataset-version", "1"),
            "There is no version 1 of model 'no-such-model'.",
        ),
        (
            ("--model", "german-credit", "--version", "1", "--dataset", "german-credit"),
            "Name the inputs: --data FILE, or registered ones (--dataset-version missing).",
        ),
    ],
)
def test_registered_inputs_must_exist_and_be_complete(
    ready: Cast, run_audit: Any, german: Path, args: tuple[str, ...], words: str
) -> None:
    assert run_audit(*german_args(german)).code == 1  # registers german-credit v1 and its model

    result = run_audit(
        "--as", "omar", *args, "--label", "credit_risk", "--prediction", "approved", "--protected", "age_group"
    )

    assert result.code == 3
    assert words in result.err


def test_an_outsider_cannot_audit_another_teams_registered_model(ready: Cast, run_audit: Any, german: Path) -> None:
    assert run_audit(*german_args(german)).code == 1
    before = db_state()

    result = run_audit(
        "--as",
        "otto",
        "--model",
        "german-credit",
        "--version",
        "1",
        "--dataset",
        "german-credit",
        "--dataset-version",
        "1",
        "--label",
        "credit_risk",
        "--prediction",
        "approved",
        "--protected",
        "age_group",
        "--force",
    )

    assert result.code == 3
    assert "There is no version 1 of model 'german-credit'." in result.err  # not yours reads as not there
    assert db_state() == before


def test_risk_answers_classify_a_new_model_and_bad_ones_change_nothing(
    ready: Cast, run_audit: Any, german: Path, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({**RISK_ANSWERS["high"], "annex_iii_area": "credit"}), encoding="utf-8")
    before = db_state()

    refused = run_audit(*german_args(german, "--risk-answers", str(answers)))

    assert refused.code == 3
    assert "the risk questionnaire is incomplete: annex_iii_area: choose one of none, biometrics" in refused.err
    assert db_state() == before

    answers.write_text(json.dumps(RISK_ANSWERS["high"]), encoding="utf-8")
    assert run_audit(*german_args(german, "--risk-answers", str(answers))).code == 1
    assert RegisteredModel.objects.get().risk_tier == "high"


def test_an_unexpected_failure_exits_3_not_1(ready: Cast, run_audit: Any, german: Path, monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr("audits.management.commands.run_audit.summary", broken)

    result = run_audit(*german_args(german))

    assert result.code == 3  # 1 would read as "fail"
    assert "run_audit: unexpected error: RuntimeError: a bug" in result.err
