"""The adversarial check's exact attacks beside the black-box attack they replace, in the same run.

    python benchmarks/bench_adversarial.py                 # the demo case and its whole audit, and a tree case
    python benchmarks/bench_adversarial.py --rounds 1 --tree-rows 20

1. The demo high-risk audit's model: German credit, ``train_demo_model`` (StandardScaler + LogisticRegression,
   exported to ONNX as the demo registers it), loaded as an audit loads it, with the built-in ``eu-ai-act-high-risk``
   policy's settings (200 sampled rows, epsilon 0.1). The adversarial check alone with the exact linear attack
   (what audits run now) and with the policy's HopSkipJump (``AdversarialCheck(structure=False)``, what they ran
   before), then the whole audit (every check of the policy, through the engine, no database) both ways.
2. A gradient-boosting classifier (100 trees of depth 3, 12 inputs, seeded synthetic data) saved with skops: the
   check with the exact tree attack against HopSkipJump, on the same sampled rows (``--tree-rows``).

Each line gives both times, the ratio, and both attacks' counts within epsilon (the exact attack's count is the
true one; the black-box count can only be lower or equal). adversarial-robustness-toolbox is imported before any
timing (a worker pays that once). ``--rounds`` repeats the demo's pair, alternating, to show the spread on a shared
machine. It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _load() -> None:
    """The imports an audit worker has already paid for, outside the timings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import art.attacks.evasion  # noqa: F401
        import onnxruntime  # noqa: F401
        import sklearn.ensemble  # noqa: F401


def _demo_evaluation() -> Any:
    import pyarrow.csv as pv

    from audits.evaluation import ColumnRoles, build_evaluation
    from governance.data.demo import DEMO_FEATURES, audit_roles, german_credit_csv, train_demo_model
    from registry.artifacts import load_predictor

    content = german_credit_csv(with_groups=True)
    path = Path(tempfile.mkdtemp(prefix="assay-bench-adversarial-")) / "model.onnx"
    path.write_bytes(train_demo_model(content))
    table = pv.read_csv(io.BytesIO(content))
    roles = ColumnRoles.from_json(audit_roles(DEMO_FEATURES))
    return build_evaluation(table, roles, predictor=load_predictor(path, framework="onnx"))


def _policy() -> dict[str, Any]:
    from audits.policies.loader import builtin_policies, load_policy

    return load_policy(builtin_policies()["eu-ai-act-high-risk"]).document


def _check(evaluation: Any, settings: dict[str, Any], *, structure: bool) -> tuple[float, dict[str, Any]]:
    from audits.checks.adversarial import AdversarialCheck
    from audits.checks.base import CheckContext

    began = time.perf_counter()
    outcome = AdversarialCheck(structure=structure).run(evaluation, settings, CheckContext())
    return time.perf_counter() - began, outcome.details["attack"]


def _whole(evaluation: Any, document: dict[str, Any], *, structure: bool) -> tuple[float, Any]:
    """The engine's whole run of the policy; ``structure=False`` swaps in the check as it ran before (the registry
    resolves ``audits.checks.adversarial:AdversarialCheck`` on every run, so the swap is seen and undone)."""
    import audits.checks.adversarial as package
    from audits.engine import evaluate

    exact = package.AdversarialCheck

    class BlackBox(exact):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(structure=False)

    package.AdversarialCheck = exact if structure else BlackBox
    try:
        began = time.perf_counter()
        result = evaluate(evaluation, document)
        return time.perf_counter() - began, result
    finally:
        package.AdversarialCheck = exact


def _counts(attack: dict[str, Any]) -> str:
    return f"{attack['name']} {attack['succeeded_within_epsilon']}/{attack['rows_attacked']} within epsilon"


def demo_case(rounds: int) -> None:
    evaluation = _demo_evaluation()
    document = _policy()
    settings = dict(document["checks"]["adversarial"])
    print(f"demo high-risk (German credit, ONNX linear, 7 inputs, {settings['sample_rows']} rows, epsilon 0.1):")
    for index in range(rounds):
        after, exact = _check(evaluation, settings, structure=True)
        before, black_box = _check(evaluation, settings, structure=False)
        print(
            f"  round {index + 1}: adversarial check {after:.3f} s ({_counts(exact)}) vs {before:.2f} s before "
            f"({_counts(black_box)}): {before / after:,.0f}x"
        )
        after, result = _whole(evaluation, document, structure=True)
        before, previous = _whole(evaluation, document, structure=False)
        checks = result.results["checks"]
        explained = checks["explainability"].get("coverage", {}).get("seconds")
        print(
            f"  round {index + 1}: whole audit (engine, every check) {after:.2f} s, verdict {result.verdict}, "
            f"explainability {explained} s, adversarial {checks['adversarial']['seconds']} s; before {before:.2f} s, "
            f"verdict {previous.verdict}: {before / after:.1f}x"
        )


def tree_case(rows: int) -> None:
    import pyarrow as pa
    import skops.io as sio
    from sklearn.ensemble import GradientBoostingClassifier

    from audits.evaluation import ColumnRoles, build_evaluation
    from registry.artifacts import load_predictor

    rng = np.random.default_rng(7)
    width = 12
    matrix = rng.normal(size=(2000, width)).astype(np.float32)
    logit = matrix[:, 0] - 0.8 * matrix[:, 1] + 0.5 * matrix[:, 2] * matrix[:, 3]
    labels = np.where(logit + rng.logistic(size=len(matrix)) > 0, "good", "bad")
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(matrix, labels)
    path = Path(tempfile.mkdtemp(prefix="assay-bench-adversarial-")) / "model.skops"
    path.write_bytes(sio.dumps(model))
    columns: dict[str, Any] = {f"x{j}": matrix[:, j] for j in range(width)}
    columns["label"] = labels
    columns["group"] = np.where(rng.random(len(matrix)) < 0.5, "a", "b")
    names = tuple(f"x{j}" for j in range(width))
    roles = ColumnRoles(label="label", protected=("group",), favourable="good", features=names)
    evaluation = build_evaluation(pa.table(columns), roles, predictor=load_predictor(path, framework="skops"))
    settings = dict(_policy()["checks"]["adversarial"]) | {"sample_rows": rows}
    after, exact = _check(evaluation, settings, structure=True)
    before, black_box = _check(evaluation, settings, structure=False)
    print(
        f"gradient boosting (skops, 100 trees of depth 3, 12 inputs, {rows} rows, epsilon 0.1): adversarial check "
        f"{after:.2f} s ({_counts(exact)}; smallest change for {rows - exact['rows_without_minimal_perturbation']} "
        f"rows) vs HopSkipJump {before:.2f} s ({_counts(black_box)}): {before / after:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="the demo's pair of runs, alternating")
    parser.add_argument("--tree-rows", type=int, default=50, help="rows the tree case attacks (0: skip it)")
    args = parser.parse_args()
    began = time.perf_counter()
    _load()
    print(f"imports (ART, onnxruntime, scikit-learn), once per worker: {time.perf_counter() - began:.1f} s")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    demo_case(args.rounds)
    if args.tree_rows:
        tree_case(args.tree_rows)


if __name__ == "__main__":
    main()
