"""The explainability check on two real models, each beside shap's own explainer on the same model and rows.

    python benchmarks/bench_explain.py                        # both cases at the issue's sizes
    python benchmarks/bench_explain.py --gb-rows 200 --budget 60
    python benchmarks/bench_explain.py --whole              # the demo's whole high-risk audit (every check)

1. The demo high-risk audit's model: German credit, ``train_demo_model`` (StandardScaler + LogisticRegression,
   exported to ONNX as the demo registers it), loaded as an audit loads it, explained with the settings of the
   built-in ``eu-ai-act-high-risk`` policy (500 sampled rows). Anchor: shap's ``LinearExplainer`` on the scikit-learn
   pipeline fitted the same way, on the same rows and background.
2. A 60-feature gradient-boosting classifier (100 trees of depth 3, seeded synthetic data) saved with skops and
   loaded as an audit loads it, explaining 1,000 rows. Anchor: shap's ``TreeExplainer`` (interventional, the same
   100 background rows) on the same estimator and rows.

shap is imported first (its import time is printed on its own line: a worker pays it once), so each line compares
computation only: the check's wall time, which explainer it chose, rows explained, the anchor's time in the same
run and the ratio check / anchor. ``--before`` also times what the check did before it read the model's structure
(shap's KernelExplainer on the 0/1 decision, the same rows, background and budget) in the same run. The time budget
is the policy's (300 s) unless ``--budget`` says otherwise, so an explainer that cannot finish shows how far it got.
It asserts nothing about time (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BACKGROUND_ROWS = 100  # the check's background size (audits.checks.explainability.BACKGROUND_ROWS)


def _shap() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    return shap


def _check_rows(features: np.ndarray, sample_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and background the check draws (the same seeded draws, in the same order)."""
    from audits.checks.explainability import seeded_rows

    rng = np.random.default_rng(seed)
    rows = seeded_rows(len(features), sample_rows, rng)
    background = features[seeded_rows(len(features), BACKGROUND_ROWS, rng)]
    return rows, background


def _run_check(evaluation: Any, settings: dict[str, Any]) -> tuple[float, Any]:
    from audits.checks.base import CheckContext
    from audits.checks.explainability import ExplainabilityCheck

    began = time.perf_counter()
    outcome = ExplainabilityCheck().run(evaluation, settings, CheckContext())
    return time.perf_counter() - began, outcome


def _line(name: str, seconds: float, outcome: Any, anchor_name: str, anchor: float) -> None:
    details = outcome.details
    coverage = details.get("coverage", {})
    print(
        f"{name}: check {seconds:.3f} s ({details.get('explainer')}, {coverage.get('rows_explained')} of "
        f"{coverage.get('rows_sampled')} rows, {details.get('explained_output')}; {outcome.outcome}); "
        f"{anchor_name} {anchor:.3f} s; ratio {seconds / anchor:.1f}x"
    )


def _whole_audit(evaluation: Any) -> None:
    """Every check of the built-in eu-ai-act-high-risk policy on the demo model, through the engine (no database),
    in a process that has not imported shap (run it with --whole alone: the anchors above import shap)."""
    from audits.engine import evaluate
    from audits.policies.loader import builtin_policies, load_policy

    document = load_policy(builtin_policies()["eu-ai-act-high-risk"]).document
    began = time.perf_counter()
    result = evaluate(evaluation, document)
    seconds = time.perf_counter() - began
    explained = result.results["checks"]["explainability"].get("coverage", {}).get("seconds")
    print(
        f"  demo high-risk audit, every check (engine): {seconds:.2f} s, of which explainability {explained} s; "
        f"verdict {result.verdict}; shap imported: {'shap' in sys.modules}"
    )


def _explainer_alone(evaluation: Any, rows: np.ndarray, background: np.ndarray, anchor: float) -> None:
    """The check's explainer without the rest of the check (proxies, associations): choosing it and running it."""
    from audits.checks.explainability import TimeBudget
    from audits.checks.explainability.explainers import choose, explain

    features = evaluation.features.astype(np.float64)
    began = time.perf_counter()
    choice = choose(
        model=evaluation.model,
        favourable=evaluation.roles.favourable,
        decide=evaluation.predict,
        features=features,
        probabilities=evaluation.scores is not None,
        no_probability_reason=evaluation.no_scores_reason,
    )
    explain(choice, features=features, rows=rows, background=background, budget=TimeBudget(300), seed=20261127)
    seconds = time.perf_counter() - began
    print(
        f"  explainer alone ({choice.explainer}, with reading and checking the structure): {seconds:.4f} s; "
        f"ratio to the anchor {seconds / anchor:.1f}x"
    )


def _before(evaluation: Any, rows: np.ndarray, background: np.ndarray, budget: float, anchor: float) -> None:
    """The check's former explainer: KernelExplainer on the 0/1 decision, same rows, background and budget."""
    from audits.checks.explainability import TimeBudget, kernel_shap

    def decide(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(evaluation.predict(matrix), dtype=np.float64)

    began = time.perf_counter()
    found = kernel_shap(
        decide=decide,
        features=evaluation.features.astype(np.float64),
        rows=rows,
        background=background,
        budget=TimeBudget(budget),
        seed=20261127,
    )
    seconds = time.perf_counter() - began
    print(
        f"  before (kernel on the decision): {seconds:.3f} s, {len(found.rows)} of {len(rows)} rows; "
        f"ratio to the anchor {seconds / anchor:.1f}x"
    )


def demo_case(budget: float | None, *, before: bool) -> None:
    import io

    import pyarrow.csv as pv
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from audits.evaluation import ColumnRoles, build_evaluation
    from audits.policies.loader import builtin_policies, load_policy
    from governance.data.demo import (
        DEMO_FEATURES,
        MAX_ITERATIONS,
        SOLVER_TOLERANCE,
        audit_roles,
        german_credit_csv,
        train_demo_model,
    )
    from registry.artifacts import load_predictor

    content = german_credit_csv(with_groups=True)
    path = Path(tempfile.mkdtemp(prefix="assay-bench-explain-")) / "model.onnx"
    path.write_bytes(train_demo_model(content))
    table = pv.read_csv(io.BytesIO(content))
    evaluation = build_evaluation(
        table, ColumnRoles.from_json(audit_roles(DEMO_FEATURES)), predictor=load_predictor(path, framework="onnx")
    )
    settings = dict(load_policy(builtin_policies()["eu-ai-act-high-risk"]).document["checks"]["explainability"])
    if budget is not None:
        settings["time_budget_seconds"] = budget
    seconds, outcome = _run_check(evaluation, settings)

    # Anchor: shap's LinearExplainer on the same pipeline fitted by scikit-learn, the scaler folded into the weights.
    matrix = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in DEMO_FEATURES])
    labels = table.column("credit_risk").to_numpy()
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=MAX_ITERATIONS, tol=SOLVER_TOLERANCE, class_weight="balanced"),
    ).fit(matrix, labels)
    scaler, regression = model[0], model[-1]
    weights = regression.coef_[0] / scaler.scale_
    intercept = regression.intercept_[0] - float(np.sum(regression.coef_[0] * scaler.mean_ / scaler.scale_))
    rows, background = _check_rows(evaluation.features.astype(np.float64), int(settings["sample_rows"]), 20261127)
    began = time.perf_counter()
    explainer = _shap().LinearExplainer((weights, intercept), background)
    explainer.shap_values(evaluation.features[rows].astype(np.float64))
    anchor = time.perf_counter() - began
    _line("demo high-risk (German credit, ONNX linear, 7 features)", seconds, outcome, "shap LinearExplainer", anchor)
    _explainer_alone(evaluation, rows, background, anchor)
    if before:
        _before(evaluation, rows, background, float(settings["time_budget_seconds"]), anchor)


def gradient_boosting_case(rows: int, features: int, budget: float | None, *, before: bool) -> None:
    import pyarrow as pa
    import skops.io as sio
    from sklearn.ensemble import GradientBoostingClassifier

    from audits.evaluation import ColumnRoles, build_evaluation
    from registry.artifacts import load_predictor

    rng = np.random.default_rng(7)
    total = max(2 * rows, 2000)
    matrix = rng.normal(size=(total, features)).astype(np.float32)
    logit = matrix[:, :10] @ rng.normal(size=10) + 0.5 * matrix[:, 10] * matrix[:, 11]
    labels = (logit + rng.logistic(size=total) > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(matrix, labels)
    path = Path(tempfile.mkdtemp(prefix="assay-bench-explain-")) / "model.skops"
    path.write_bytes(sio.dumps(model))
    names = [f"x{j}" for j in range(features)]
    columns = {name: matrix[:, j] for j, name in enumerate(names)}
    columns["label"] = labels
    columns["group"] = np.where(rng.random(total) < 0.5, "a", "b")
    table = pa.table(columns)
    roles = ColumnRoles(label="label", protected=("group",), features=tuple(names))
    evaluation = build_evaluation(table, roles, predictor=load_predictor(path, framework="skops"))
    settings: dict[str, Any] = {"sample_rows": rows, "time_budget_seconds": budget or 300}
    seconds, outcome = _run_check(evaluation, settings)

    explained, background = _check_rows(evaluation.features.astype(np.float64), rows, 20261127)
    began = time.perf_counter()
    explainer = _shap().TreeExplainer(model, background, feature_perturbation="interventional")
    explainer.shap_values(evaluation.features[explained].astype(np.float64))
    anchor = time.perf_counter() - began
    _line(
        f"gradient boosting ({features} features, skops, {rows} rows)", seconds, outcome, "shap TreeExplainer", anchor
    )
    if before:
        _before(evaluation, explained, background, float(settings["time_budget_seconds"]), anchor)


def _whole_only() -> None:
    import io

    import pyarrow.csv as pv

    from audits.evaluation import ColumnRoles, build_evaluation
    from governance.data.demo import DEMO_FEATURES, audit_roles, german_credit_csv, train_demo_model
    from registry.artifacts import load_predictor

    content = german_credit_csv(with_groups=True)
    path = Path(tempfile.mkdtemp(prefix="assay-bench-explain-")) / "model.onnx"
    path.write_bytes(train_demo_model(content))
    roles = ColumnRoles.from_json(audit_roles(DEMO_FEATURES))
    predictor = load_predictor(path, framework="onnx")
    _whole_audit(build_evaluation(pv.read_csv(io.BytesIO(content)), roles, predictor=predictor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb-rows", type=int, default=1000)
    parser.add_argument("--gb-features", type=int, default=60)
    parser.add_argument("--budget", type=float, default=None, help="time budget in seconds (default: the policy's)")
    parser.add_argument("--only", choices=("demo", "gb"), default=None)
    parser.add_argument("--before", action="store_true", help="also time the former explainer (KernelExplainer)")
    parser.add_argument("--whole", action="store_true", help="only the demo's whole high-risk audit, shap not loaded")
    args = parser.parse_args()
    if args.whole:
        _whole_only()
        return
    began = time.perf_counter()
    _shap()
    print(f"shap import: {time.perf_counter() - began:.2f} s (once per worker process; not in the figures below)")
    if args.only in (None, "demo"):
        demo_case(args.budget, before=args.before)
    if args.only in (None, "gb"):
        gradient_boosting_case(args.gb_rows, args.gb_features, args.budget, before=args.before)


if __name__ == "__main__":
    main()
