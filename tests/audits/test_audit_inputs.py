"""Audit inputs (issue 16): protected roles mapped to the data's columns, what counts as unknown, the decision's
value vocabulary, the auditor's exclusions, and the canonical column roles a run stores and hashes.

The pure rules are tested on Arrow tables; the same inputs then go through ``POST /api/v1/audits/`` and
``manage.py run_audit --json`` (``call_command``), the two ways an audit is started, to see what a run stores.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audits.actions import canonical_sha256 as project_sha256
from audits.actions import ensure_builtin_policies
from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.models import AuditRun
from governance.data.ingest import read_table
from tests.api import db_state, events_since, last_seq
from tests.audits.conftest import API, audit_body, post_audit, predictions_only_version, rows_csv, upload
from tests.conftest import Cast
from tests.data.conftest import refused

# --- value vocabulary --------------------------------------------------------------------------------------------


def table(label: list[Any], prediction: list[Any], sex: list[str] | None = None) -> pa.Table:
    rows = len(label)
    return pa.table({"label": label, "prediction": prediction, "sex": sex or ["f", "m"] * (rows // 2)})


def evaluate(data: pa.Table, favourable: str = "yes") -> Any:
    roles = ColumnRoles(label="label", protected=("sex",), favourable=favourable, prediction="prediction")
    return build_evaluation(data, roles)


@pytest.mark.parametrize(
    ("prediction", "shown"),
    [
        (["yes", "Yes"] * 10, "'Yes'"),
        (["yes", " yes"] * 10, "' yes'"),
        (["yes", "yes "] * 10, "'yes '"),
    ],
    ids=["capital", "leading-space", "trailing-space"],
)
def test_a_third_spelling_of_the_decision_is_refused_when_the_label_has_one_value(
    prediction: list[str], shown: str
) -> None:
    # The case: labels all 'yes', favourable 'yes'. Before, the other spelling counted as unfavourable
    # (selection rates about 0.5 instead of 1.0) and the audit passed.
    with pytest.raises(EvaluationError) as refused_with:
        evaluate(table(["yes"] * 20, prediction))
    message = str(refused_with.value)
    assert message.startswith("prediction:")
    assert shown in message  # the exact characters, visible through repr
    assert "a spelling of 'yes'" in message


def test_a_third_spelling_is_refused_beside_a_two_valued_label() -> None:
    with pytest.raises(EvaluationError, match=r"'Yes' \(a spelling of 'yes'\?\)"):
        evaluate(table(["yes", "no"] * 10, ["yes", "no", "Yes", "no"] * 5))


def test_the_labels_own_values_are_accepted_and_counted() -> None:
    evaluation = evaluate(table(["yes"] * 20, ["yes"] * 20))
    assert evaluation.y_pred.tolist() == [1] * 20  # selection rate 1.0, as the data says
    evaluation = evaluate(table(["yes", "no"] * 10, ["no", "yes"] * 10))
    assert (evaluation.y_true.tolist(), evaluation.y_pred.tolist()) == ([1, 0] * 10, [0, 1] * 10)


def test_a_text_column_spelling_a_number_differently_is_refused_naming_both_spellings() -> None:
    # Text is compared as written: '1.0' in a text column is not the label's '1'.
    with pytest.raises(EvaluationError) as refused_with:
        evaluate(table(["1", "0"] * 10, ["1.0", "0"] * 10), favourable="1")
    assert "'1.0' (a spelling of '1'?)" in str(refused_with.value)


def test_numeric_columns_are_normalised_so_one_point_zero_is_one() -> None:
    # One rule: a float column writes 1.0 as "1", as the label's text does; the favourable value "1.0" is read
    # against a numeric label the same way.
    evaluation = evaluate(table(["1", "0"] * 10, [1.0, 0.0] * 10), favourable="1")
    assert evaluation.y_pred.tolist() == [1, 0] * 10
    evaluation = evaluate(table([1.0, 0.0] * 10, ["1", "0"] * 10), favourable="1.0")
    assert (evaluation.y_true.tolist(), evaluation.y_pred.tolist()) == ([1, 0] * 10, [1, 0] * 10)


@pytest.mark.parametrize(
    ("label", "favourable", "words"),
    [
        (["yes", "no"] * 10, "Yes", "favourable: 'Yes' (a spelling of 'yes'?) is not a value of the label"),
        (["1", "0"] * 10, "1.0", "favourable: '1.0' (a spelling of '1'?) is not a value of the label"),
        (["yes", "Yes"] * 10, "yes", "label: 'label' spells one value two ways ('Yes', 'yes')"),
    ],
    ids=["favourable-capital", "favourable-float-text", "label-two-spellings"],
)
def test_the_favourable_value_must_be_spelt_as_the_label_spells_it(
    label: list[str], favourable: str, words: str
) -> None:
    with pytest.raises(EvaluationError) as refused_with:
        evaluate(table(label, label), favourable=favourable)
    assert words in str(refused_with.value)


class WordModel:
    """A model answering 'Yes'/'no' while the label says 'yes'/'no'."""

    feature_names = ["x"]

    def predict(self, matrix: Any) -> Any:
        return np.where(matrix[:, 0] > 0, "Yes", "no")


def test_a_models_outputs_follow_the_same_vocabulary_rule() -> None:
    data = pa.table({"x": [1.0, -1.0] * 10, "label": ["yes", "no"] * 10, "sex": ["f", "f", "m", "m"] * 5})
    roles = ColumnRoles(label="label", protected=("sex",), favourable="yes", features=("x",))
    with pytest.raises(EvaluationError, match=r"outputs 'Yes' \(a spelling of 'yes'\?\) are not values of the label"):
        build_evaluation(data, roles, predictor=WordModel())


# --- roles mapped to columns, unknown values --------------------------------------------------------------------


def people() -> pa.Table:
    """40 rows: gender alternates f/m; race cycles A, B, NA (a real category unless declared unknown), empty."""
    return pa.table(
        {
            "label": ["1", "0"] * 20,
            "prediction": ["1", "1", "0", "0"] * 10,
            "gender": ["f", "m"] * 20,
            "race": ["A", "B", "NA", ""] * 10,
        }
    )


def test_a_mapping_keys_the_evaluation_by_role_and_records_each_roles_column() -> None:
    roles = ColumnRoles.from_json(
        {
            "label": "label",
            "prediction": "prediction",
            "protected": {"sex": "gender", "race_ethnicity": "race"},
            "reference_groups": {"gender": "m"},  # the column's name, unambiguous: read as role 'sex'
        }
    )
    evaluation = build_evaluation(people(), roles)

    assert list(evaluation.protected) == ["race_ethnicity", "sex"]  # canonical order: sorted by role
    assert evaluation.protected_columns == {"race_ethnicity": "race", "sex": "gender"}
    assert evaluation.protected["sex"].tolist() == ["f", "m"] * 20
    assert roles.reference_groups == {"sex": "m"}


def test_only_empty_cells_are_unknown_unless_tokens_are_declared() -> None:
    plain = {"label": "label", "prediction": "prediction", "protected": {"race_ethnicity": "race", "sex": "gender"}}
    undeclared = build_evaluation(people(), ColumnRoles.from_json(plain))
    # "NA" stays a category: only the empty cells (every fourth row) are unknown.
    assert undeclared.unknown["race_ethnicity"].tolist() == [False, False, False, True] * 10
    assert sorted(set(undeclared.protected["race_ethnicity"][~undeclared.unknown["race_ethnicity"]])) == [
        "A",
        "B",
        "NA",
    ]
    assert not undeclared.unknown["sex"].any()

    declared = build_evaluation(people(), ColumnRoles.from_json({**plain, "unknown_values": {"race": ["NA"]}}))
    assert declared.unknown["race_ethnicity"].tolist() == [False, False, True, True] * 10
    assert declared.protected["race_ethnicity"].tolist() == ["A", "B", "NA", ""] * 10  # values kept as text


@pytest.mark.parametrize(
    ("race", "tokens", "words"),
    [
        (["", "NA"] * 20, ["NA"], "every row of 'race_ethnicity' (column 'race') is unknown (empty or one of 'NA')"),
        (["A", "", "NA", "A"] * 10, ["NA"], "is in one group ('A') once its 20 unknown rows"),
        (["A"] * 40, [], "every row of 'race_ethnicity' (column 'race') is in one group ('A'); there is nothing"),
    ],
    ids=["all-unknown", "one-known-value", "one-value"],
)
def test_one_group_is_counted_on_known_values_only(race: list[str], tokens: list[str], words: str) -> None:
    data = people().set_column(3, "race", pa.array(race))
    roles = ColumnRoles.from_json(
        {
            "label": "label",
            "prediction": "prediction",
            "protected": {"race_ethnicity": "race"},
            "unknown_values": {"race_ethnicity": tokens} if tokens else None,
        }
    )
    with pytest.raises(EvaluationError) as refused_with:
        build_evaluation(data, roles)
    assert words in str(refused_with.value)


def test_the_unknown_category_is_never_a_reference_and_an_exclusion_names_a_real_group() -> None:
    base = {"label": "label", "prediction": "prediction", "protected": {"race_ethnicity": "race", "sex": "gender"}}
    with pytest.raises(EvaluationError, match="has no group 'NA' \\(it is the unknown category, never a reference\\)"):
        build_evaluation(
            people(),
            ColumnRoles.from_json({**base, "unknown_values": {"race": ["NA"]}, "reference_groups": {"race": "NA"}}),
        )
    with pytest.raises(EvaluationError, match="'race_ethnicity' has no value 'C'"):
        build_evaluation(people(), ColumnRoles.from_json({**base, "exclusions": {"race=C": "Fewer than 2%."}}))
    roles = ColumnRoles.from_json({**base, "exclusions": {"gender=f, race=NA": "Fewer than 2% of applicants."}})
    # Named as the results name the group: roles, not columns, in the order given (the grouping's order).
    assert roles.exclusions == {"sex=f, race_ethnicity=NA": "Fewer than 2% of applicants."}
    build_evaluation(people(), roles)


# --- canonical form and hash stability -------------------------------------------------------------------------

# Computed on main before the mapping form existed (commit 3bd4f2f), with audits.actions.canonical_sha256 of
# ColumnRoles.from_json(LIST_ROLES).as_json(): runs stored since then keep their input hashes.
LIST_ROLES = {
    "label": "hired",
    "protected": ["sex", "race"],
    "favourable": "yes",
    "prediction": "decision",
    "score": "",
    "threshold": None,
    "reference_groups": {"sex": "male"},
    "features": [],
}
LIST_ROLES_SHA256 = "671e884e0c1d67ae5b37ba0f03703ac350bae0fcdea88e556b8b8823c91e71a4"
SCORE_ROLES = {"label": "y", "protected": ["age_group"], "score": "s", "threshold": 0.5, "features": ["a", "b"]}
SCORE_ROLES_SHA256 = "235dc7cd1dd05268d8452afe231239874addf97b2fc71afc67543a455ac2cdc6"


def test_the_list_form_keeps_its_layout_and_hash() -> None:
    canonical = ColumnRoles.from_json(LIST_ROLES).as_json()
    assert canonical == LIST_ROLES  # the old layout, key for key: nothing added when nothing new is given
    assert list(canonical) == list(LIST_ROLES)
    assert project_sha256(canonical) == LIST_ROLES_SHA256
    score = ColumnRoles.from_json(SCORE_ROLES).as_json()
    assert project_sha256(score) == SCORE_ROLES_SHA256
    assert ColumnRoles.from_json(canonical).as_json() == canonical  # a stored run reads back the same


def test_the_mapping_form_and_new_roles_are_recorded_canonically() -> None:
    given = {
        **LIST_ROLES,
        "protected": {"sex": "gender", "race_ethnicity": "race"},
        "reference_groups": {"gender": "male"},
        "unknown_values": {"race": ["unknown", "NA", "NA"]},
        "exclusions": {"race=Other": "Under 2% of the sample; see the auditor's note."},
    }
    canonical = ColumnRoles.from_json(given).as_json()

    assert canonical == {
        **LIST_ROLES,
        "protected": {"race_ethnicity": "race", "sex": "gender"},
        "reference_groups": {"sex": "male"},
        "unknown_values": {"race_ethnicity": ["NA", "unknown"]},
        "exclusions": {"race_ethnicity=Other": "Under 2% of the sample; see the auditor's note."},
    }
    assert list(canonical["protected"]) == ["race_ethnicity", "sex"]
    assert ColumnRoles.from_json(canonical).as_json() == canonical
    # Another spelling of the same inputs (keys in another order, the role named by its column) hashes the same.
    again = {**given, "protected": {"race_ethnicity": "race", "sex": "gender"}, "reference_groups": {"sex": "male"}}
    assert project_sha256(ColumnRoles.from_json(again).as_json()) == project_sha256(canonical)
    assert project_sha256(canonical) != LIST_ROLES_SHA256


# --- through the API ---------------------------------------------------------------------------------------------


def applicant_rows(*, race_na: str = "NA") -> list[dict[str, str]]:
    """240 applicants: gender F/M (120 each, 54 and 60 selected), race cycling A, B, ``race_na``; labels agree with
    the decision except on every seventh row."""
    rows = []
    for gender, selected in (("F", 54), ("M", 60)):
        for i in range(120):
            decision = 1 if i < selected else 0
            rows.append(
                {
                    "applicant_id": f"{gender}-{i:04d}",
                    "gender": gender,
                    "race": ("A", "B", race_na)[i % 3],
                    "label": str(decision if i % 7 else 1 - decision),
                    "prediction": str(decision),
                }
            )
    return rows


MAPPED = {"label": "label", "prediction": "prediction", "protected": {"sex": "gender", "race_ethnicity": "race"}}


@pytest.mark.usefixtures("media_root", "builtin_policies_stored")
def test_the_api_audits_by_role_and_stores_the_canonical_mapping(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    version = predictions_only_version(cast)
    dataset_version = upload(cast, applicant_rows())
    body = audit_body(version, dataset_version, roles={**MAPPED, "reference_groups": {"gender": "M"}})

    with django_capture_on_commit_callbacks(execute=True):
        response = post_audit(cast.owner, body)
    assert response.status_code == 201, response.content
    run = cast.owner.client().get(f"{API}/audits/{response.json()['id']}/").json()

    stored = {
        "label": "label",
        "protected": {"race_ethnicity": "race", "sex": "gender"},
        "favourable": "1",
        "prediction": "prediction",
        "score": "",
        "threshold": None,
        "reference_groups": {"sex": "M"},
        "features": [],
    }
    assert run["status"] == "done", run["error"]
    assert run["column_roles"] == stored
    assert run["input_hashes"]["column_roles_sha256"] == project_sha256(stored)
    groupings = run["results"]["group_metrics"]["groupings"]
    assert set(groupings["sex"]) == {"sex=F", "sex=M"}  # named by role, read from column 'gender'
    assert set(groupings["race_ethnicity"]) == {"race_ethnicity=A", "race_ethnicity=B", "race_ethnicity=NA"}
    assert groupings["sex"]["sex=F"]["count"] == 120
    assert groupings["sex"]["sex=F"]["selection_rate"] == pytest.approx(54 / 120)


@pytest.mark.usefixtures("media_root", "builtin_policies_stored")
def test_declared_unknown_tokens_leave_na_out_of_the_groups_through_the_api(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    version = predictions_only_version(cast)
    dataset_version = upload(cast, applicant_rows())
    roles = {**MAPPED, "unknown_values": {"race_ethnicity": ["NA"]}}

    with django_capture_on_commit_callbacks(execute=True):
        response = post_audit(cast.owner, audit_body(version, dataset_version, roles=roles))
    assert response.status_code == 201, response.content
    run = AuditRun.objects.get(pk=response.json()["id"])

    assert run.status == "done", run.error
    assert run.column_roles["unknown_values"] == {"race_ethnicity": ["NA"]}
    groupings = run.results["group_metrics"]["groupings"]
    assert set(groupings["race_ethnicity"]) == {"race_ethnicity=A", "race_ethnicity=B"}
    assert sum(group["count"] for group in groupings["race_ethnicity"].values()) == 160  # 80 NA rows left out


@pytest.mark.usefixtures("media_root", "builtin_policies_stored")
def test_a_third_spelling_of_the_decision_ends_the_run_in_error_through_the_api(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    rows = [
        {"applicant_id": str(i), "sex": "FM"[i % 2], "label": "yes", "prediction": ("yes", "Yes")[i // 2 % 2]}
        for i in range(200)
    ]
    version = predictions_only_version(cast)
    dataset_version = upload(cast, rows)
    roles = {"label": "label", "prediction": "prediction", "protected": ["sex"], "favourable": "yes"}

    with django_capture_on_commit_callbacks(execute=True):
        response = post_audit(cast.owner, audit_body(version, dataset_version, roles=roles))
    run = AuditRun.objects.get(pk=response.json()["id"])

    assert (run.status, run.verdict) == ("error", "")
    assert "'Yes' (a spelling of 'yes'?)" in run.error


# Each malformed column_roles: the field the error names and words its message holds.
MALFORMED: dict[str, tuple[dict[str, Any], str, str]] = {
    "empty-role": ({"protected": {"": "gender"}}, "protected", "a role name is empty"),
    "empty-column": ({"protected": {"sex": " "}}, "protected", "the column of role 'sex' is empty"),
    "duplicated-column": (
        {"protected": {"sex": "gender", "gender_identity": "gender"}},
        "protected",
        "column 'gender' is mapped to several roles",
    ),
    "non-string-column": ({"protected": {"sex": 3}}, "protected", "must be text, not int (3)"),
    "non-string-in-list": ({"protected": ["gender", None]}, "protected", "must be text, not NoneType"),
    "column-twice-in-list": ({"protected": ["gender", "gender"]}, "protected", "column 'gender' is named twice"),
    "protected-text": ({"protected": "gender"}, "protected", "give a list of column names, or a mapping"),
    "role-with-equals": ({"protected": {"sex=x": "gender"}}, "protected", "role 'sex=x' is not a plain name"),
    "reference-unknown-role": (
        {"reference_groups": {"age": "old"}},
        "reference_groups",
        "'age' is not a protected role or column",
    ),
    "unknown-values-not-list": ({"unknown_values": {"race": "NA"}}, "unknown_values", "a list of tokens"),
    "unknown-values-empty-token": ({"unknown_values": {"race": [""]}}, "unknown_values", "always unknown"),
    "unknown-values-role-twice": (
        {"unknown_values": {"race": ["NA"], "race_ethnicity": ["?"]}},
        "unknown_values",
        "role 'race_ethnicity' is named twice",
    ),
    "exclusion-unknown-role": (
        {"exclusions": {"age=old": "Few."}},
        "exclusions",
        "names 'age', which is not a protected role",
    ),
    "exclusion-not-a-group": ({"exclusions": {"Other": "Few."}}, "exclusions", "as role=value"),
    "exclusion-no-justification": ({"exclusions": {"race=Other": "  "}}, "exclusions", "needs the auditor's"),
    "exclusion-too-long": (
        {"exclusions": {"race=Other": "x" * 2001}},
        "exclusions",
        "longer than 2000 characters",
    ),
}


@pytest.mark.usefixtures("media_root", "builtin_policies_stored")
def test_malformed_column_roles_are_refused_naming_the_problem_and_nothing_is_stored(cast: Cast) -> None:
    version = predictions_only_version(cast)
    dataset_version = upload(cast, applicant_rows())
    for case, (change, field, words) in MALFORMED.items():
        body = audit_body(version, dataset_version, roles={**MAPPED, **change})

        error = refused(lambda body=body: post_audit(cast.owner, body), 422)

        details = error["details"]["column_roles"]
        assert field in details, (case, error)
        assert words in str(details[field]), (case, error)
    assert not AuditRun.objects.exists()


@pytest.mark.usefixtures("media_root", "builtin_policies_stored")
def test_the_gate_refuses_malformed_roles_and_audits_by_the_mapping(cast: Cast) -> None:
    predictions_only_version(cast, name="screening")
    upload(cast, applicant_rows(), dataset="screening-eval")
    ask = {
        "model": "screening",
        "version": 1,
        "environment": "staging",
        "policy": "four-fifths",
        "dataset": "screening-eval",
        "dataset_version": 1,
    }
    gate = "/api/v1/gates/check"

    bad = {**ask, "column_roles": {**MAPPED, "protected": {"sex": "gender", "race_ethnicity": "gender"}}}
    error = refused(lambda: cast.ci.client().post(gate, bad, format="json"), 422)
    assert "column 'gender' is mapped to several roles" in str(error["details"]["column_roles"]["protected"])

    response = cast.ci.client().post(gate, {**ask, "column_roles": MAPPED}, format="json")

    assert response.status_code in (200, 412), response.content
    run = AuditRun.objects.get()
    assert response.json()["audit"]["id"] == run.pk
    assert run.column_roles["protected"] == {"race_ethnicity": "race", "sex": "gender"}
    assert set(run.results["group_metrics"]["groupings"]["sex"]) == {"sex=F", "sex=M"}


# --- through run_audit --json ------------------------------------------------------------------------------------


def run_audit(*args: str) -> tuple[int, dict[str, Any]]:
    """``manage.py run_audit --json`` through call_command: (exit status, the printed run)."""
    out = io.StringIO()
    try:
        call_command("run_audit", *args, "--json", stdout=out)
        code = 0
    except SystemExit as exc:  # the verdict is the exit status
        code = int(exc.code or 0)
    return code, json.loads(out.getvalue())


@pytest.fixture
def applicants_csv(tmp_path: Path, media_root: Path, builtin_policies_stored: None) -> Path:
    path = tmp_path / "applicants.csv"
    path.write_bytes(rows_csv(applicant_rows()))
    return path


def test_run_audit_takes_roles_mapped_to_columns(cast: Cast, applicants_csv: Path) -> None:
    common = ["--as", "omar", "--data", str(applicants_csv), "--label", "label", "--prediction", "prediction"]

    code, run = run_audit(*common, "--protected", "sex=gender,race_ethnicity=race", "--reference", "gender=M")

    assert code in (0, 1, 2), run
    assert run["status"] == "done", run
    assert run["column_roles"]["protected"] == {"race_ethnicity": "race", "sex": "gender"}
    assert run["column_roles"]["reference_groups"] == {"sex": "M"}
    assert "unknown_values" not in run["column_roles"]
    groupings = run["group_metrics"]["groupings"]
    assert set(groupings["race_ethnicity"]) == {"race_ethnicity=A", "race_ethnicity=B", "race_ethnicity=NA"}
    assert groupings["sex"]["sex=M"]["selection_rate"] == pytest.approx(60 / 120)

    code, declared = run_audit(*common, "--protected", "sex=gender,race_ethnicity=race", "--unknown", "race=NA")
    assert declared["column_roles"]["unknown_values"] == {"race_ethnicity": ["NA"]}
    assert set(declared["group_metrics"]["groupings"]["race_ethnicity"]) == {"race_ethnicity=A", "race_ethnicity=B"}

    # The old comma list still works and records the old layout.
    code, listed = run_audit(*common, "--protected", "gender,race")
    assert listed["column_roles"]["protected"] == ["gender", "race"]
    assert listed["input_hashes"]["column_roles_sha256"] == project_sha256(listed["column_roles"])


@pytest.mark.parametrize(
    ("protected", "words"),
    [
        ("sex=gender,race", "map every role to its column (ROLE=COL), or give columns only"),
        ("sex=gender,race_ethnicity=gender", "--protected: column 'gender' is mapped to several roles"),
        ("sex=", "--protected: the column of role 'sex' is empty"),
        ("sex=gender,sex=race", "role 'sex' is mapped twice"),
    ],
)
def test_run_audit_refuses_malformed_mappings_and_changes_nothing(
    cast: Cast, applicants_csv: Path, protected: str, words: str
) -> None:
    before, seq = db_state(), last_seq()
    args = ["--as", "omar", "--data", str(applicants_csv), "--label", "label", "--prediction", "prediction"]

    with pytest.raises(CommandError) as refused_with:
        call_command("run_audit", *args, "--protected", protected, stdout=io.StringIO())

    assert words in str(refused_with.value)
    assert refused_with.value.returncode == 3
    assert db_state() == before
    assert events_since(seq) == []


def ll144_rows() -> list[dict[str, str]]:
    """500 applicants: 250 per gender; race A or B, and 4 of race Other (0.8%, under LL144's 2%)."""
    rows = []
    for i in range(500):
        gender = "FM"[i % 2]
        race = "Other" if i < 4 else "AB"[i // 2 % 2]
        decision = 1 if i % 5 < 3 else 0
        label = prediction = str(decision)
        rows.append({"applicant_id": str(i), "gender": gender, "race": race, "label": label, "prediction": prediction})
    return rows


def test_ll144_reads_the_mapped_roles_and_the_auditors_exclusion(cast: Cast, tmp_path: Path, media_root: Path) -> None:
    ensure_builtin_policies()
    data = tmp_path / "hiring.csv"
    data.write_bytes(rows_csv(ll144_rows()))
    justification = "Fewer than 2% of applicants; see the audit memo of 2026-11-30."
    exclusions = tmp_path / "exclusions.json"
    exclusions.write_text(json.dumps({"race=Other": justification}), encoding="utf-8")

    _, run = run_audit(
        *("--as", "omar", "--data", str(data), "--label", "label", "--prediction", "prediction"),
        *("--protected", "sex=gender,race_ethnicity=race", "--policy", "nyc-ll144", "--exclusions", str(exclusions)),
    )

    assert run["status"] == "done", run
    assert run["column_roles"]["exclusions"] == {"race_ethnicity=Other": justification}
    impact = next(check for check in run["checks"] if check["check"] == "disparate_impact")
    groupings = {grouping["grouping"]: grouping for grouping in impact["details"]["groupings"]}
    assert set(groupings) >= {"sex", "race_ethnicity", "sex x race_ethnicity"}  # the intersection is not skipped
    other = next(row for row in groupings["race_ethnicity"]["groups"] if row["group"] == "race_ethnicity=Other")
    assert (other["count"], other["status"]) == (4, "excluded_below_share")
    assert other["exclusion_justification"] == justification


def test_run_audit_refuses_a_third_spelling_of_the_decision(cast: Cast, tmp_path: Path, media_root: Path) -> None:
    ensure_builtin_policies()
    rows = [
        {"applicant_id": str(i), "sex": "FM"[i % 2], "label": "yes", "prediction": ("yes", "Yes")[i // 2 % 2]}
        for i in range(200)
    ]
    data = tmp_path / "spellings.csv"
    data.write_bytes(rows_csv(rows))
    out = io.StringIO()

    with pytest.raises(CommandError) as refused_with:
        call_command(
            "run_audit",
            *("--as", "omar", "--data", str(data), "--label", "label", "--prediction", "prediction"),
            *("--protected", "sex", "--favourable", "yes", "--json"),
            stdout=out,
        )

    assert refused_with.value.returncode == 3  # an error, never a verdict
    assert "'Yes' (a spelling of 'yes'?)" in str(refused_with.value)
    run = json.loads(out.getvalue())
    assert (run["status"], run["verdict"], run["group_metrics"]) == ("error", "", None)


def test_text_columns_are_read_as_written_so_na_is_not_missing(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("race,label,income\nNA,1,NA\nNULL,0,5\n,1,7\nA,0,\n", encoding="utf-8")

    data = read_table(path, fmt="csv", text_columns=["race", "label"])

    assert data.column("race").to_pylist() == ["NA", "NULL", "", "A"]  # Arrow's null tokens stay text
    assert data.column("label").to_pylist() == ["1", "0", "1", "0"]
    assert data.column("income").to_pylist() == [None, 5, 7, None]  # other columns parse as on upload
