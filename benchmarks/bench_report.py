"""A complete signed report of one audit run: the demo model (ONNX) on UCI German credit under a policy with every
check type and the age group x sex intersection (10 charts, about 15 pages).

    python benchmarks/bench_report.py            # target: under 3 s to build and sign, end to end

Prints, from one run: the end-to-end build (cold: the first in the process, paying for importing matplotlib,
reportlab and pyHanko; then warm), and the warm stages separately: gathering the evidence from the database, each
chart, the reportlab layout, the PAdES signature, and offline validation. It asserts nothing about time (the
machine is shared and noisy).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_trail import configure


def full_policy_text() -> str:
    """The EU AI Act policy with the four-fifths disparate-impact check and the age group x sex intersection."""
    from audits.policies import builtin_policies

    text = builtin_policies()["eu-ai-act-high-risk"].replace("name: eu-ai-act-high-risk", "name: bench-report", 1)
    text = text.replace("intersections: false", "intersections:\n  - [age_group, sex]", 1)
    four_fifths = builtin_policies()["four-fifths"]
    return text.replace("checks:\n", "checks:\n" + four_fifths[four_fifths.index("  disparate_impact:") :], 1)


def arrange() -> object:
    """Users, the German credit dataset, the ONNX model trained on it, a completed audit: returns the run."""
    from audits import actions as audits
    from governance.access.actions import do_create_user
    from governance.data import actions as data
    from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
    from governance.trail.log import Actor
    from registry import actions as registry

    owner = do_create_user(username="omar", role="owner", teams=["credit-risk"], actor=Actor.system())
    officer = do_create_user(username="olivia", role="officer", teams=[], actor=Actor.system())
    actor, team = Actor.for_user(owner), owner.teams.get()
    folder = Path(tempfile.mkdtemp(prefix="assay-bench-report-"))
    content = german_credit_csv(with_groups=True)
    (folder / "german.csv").write_bytes(content)
    (folder / "model.onnx").write_bytes(train_demo_model(content))
    dataset = data.do_register_dataset(user=owner, actor=actor, name="german-credit", team=team)
    dataset_version = data.do_register_dataset_version(
        dataset=dataset,
        user=owner,
        actor=actor,
        file_path=folder / "german.csv",
        file_name="german.csv",
        subject_id_column="applicant_id",
        label_column="credit_risk",
    )
    answers = {
        "prohibited_practice": "none",
        "annex_iii_area": "essential_services",
        "profiles_natural_persons": True,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    }
    model = registry.do_register_model(
        user=owner, actor=actor, name="credit-scoring", team=team, purpose="Credit scoring.", risk_answers=answers
    )
    version = registry.do_register_version(
        model=model,
        user=owner,
        actor=actor,
        artifact_path=folder / "model.onnx",
        artifact_name="model.onnx",
        training_datasets=[{"dataset": "german-credit", "version": dataset_version.number}],
    )
    policy = audits.do_save_policy(user=officer, actor=Actor.for_user(officer), text=full_policy_text())
    roles = {
        "label": "credit_risk",
        "favourable": "1",
        "protected": ["age_group", "sex"],
        "features": list(DEMO_FEATURES),
    }
    run, _ = audits.do_start_audit(
        user=owner,
        actor=actor,
        model_version=version,
        dataset_version=dataset_version,
        policy_version=policy,
        column_roles=roles,
    )
    run.refresh_from_db()
    if run.status == "queued":
        run = audits.execute_audit(run.pk)
    assert run.status == "done", run.error
    return run


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    configure(os.environ.get("DATABASE_URL"))
    import logging

    logging.disable(logging.INFO)
    from audits.reports import service
    from audits.reports.charts import charts_for_results
    from governance.trail.log import Actor

    began = time.perf_counter()
    run = arrange()
    print(f"arranged a completed audit (run {run.pk}, verdict {run.verdict}) in {time.perf_counter() - began:.1f} s")

    rows: list[tuple[str, float]] = []

    def timed(label: str, work: object) -> object:
        start = time.perf_counter()
        value = work()  # type: ignore[operator]
        rows.append((label, time.perf_counter() - start))
        return value

    report = timed(
        "end to end, cold (first in the process)", lambda: service.build_run_report(run, actor=Actor.system())
    )
    report = timed("end to end, warm", lambda: service.build_run_report(run, actor=Actor.system()))

    # The stages, warm, one by one.
    from audits.reports import charts as chart_module
    from audits.reports.document import render_report
    from audits.reports.signing import load_identity, sign_pdf, validate_pdf

    identity = load_identity()
    context = timed(
        "gather the evidence (database, lineage, consent, trail)",
        lambda: service.gather_context(
            report_id="bench",
            kind="run",
            version=run.model_version,
            runs=[run],
            requested_by=None,
            signer_sha256=identity.cert_sha256,
        ),
    )
    charts = charts_for_results(run.results)  # what the layout embeds (matplotlib is warm after this)
    chart_rows: list[tuple[str, float]] = []
    total_charts = 0.0
    groupings = run.results["group_metrics"]["groupings"]
    checks = run.results["checks"]
    single = {
        "group_rates:selection_rate": lambda: chart_module.group_rates_chart(groupings, metric="selection_rate"),
        "group_rates:true_positive_rate": lambda: chart_module.group_rates_chart(
            groupings, metric="true_positive_rate"
        ),
        "group_rates:false_positive_rate": lambda: chart_module.group_rates_chart(
            groupings, metric="false_positive_rate"
        ),
        "group_rates:precision": lambda: chart_module.group_rates_chart(groupings, metric="precision"),
        "impact_ratio": lambda: chart_module.impact_ratio_chart(checks["disparate_impact"]),
        "performance": lambda: chart_module.performance_chart(checks["performance"]),
        "group_shares": lambda: chart_module.group_shares_chart(checks["data_quality"]),
        "shap_importance": lambda: chart_module.shap_importance_chart(checks["explainability"]),
        "proxy_associations": lambda: chart_module.proxy_association_chart(checks["explainability"]),
        "robustness": lambda: chart_module.robustness_chart(checks["adversarial"]),
    }
    for key, draw in single.items():
        start = time.perf_counter()
        draw()
        elapsed = time.perf_counter() - start
        chart_rows.append((f"  chart {key}", elapsed))
        total_charts += elapsed
    rows.append((f"{len(single)} charts (PNG)", total_charts))
    pdf, _pages = timed(
        "reportlab layout (contents, page numbers, outline)", lambda: render_report(context, {run.pk: charts})
    )  # type: ignore[misc]
    signed = timed("PAdES signature (pyHanko)", lambda: sign_pdf(pdf, reason="bench", identity=identity))
    timed("offline validation (pyHanko)", lambda: validate_pdf(signed.pdf))  # type: ignore[attr-defined]

    print(f"report: {report.pages} pages, {report.size / 1e3:.0f} kB, {len(charts)} charts")  # type: ignore[attr-defined]
    width = max(len(label) for label, _ in rows + chart_rows)
    print(f"{'stage':<{width}}  seconds")
    for label, seconds in rows[:2]:
        print(f"{label:<{width}}  {seconds:7.3f}")
    for label, seconds in rows[2:4]:
        print(f"{label:<{width}}  {seconds:7.3f}")
    for label, seconds in chart_rows:
        print(f"{label:<{width}}  {seconds:7.3f}")
    for label, seconds in rows[4:]:
        print(f"{label:<{width}}  {seconds:7.3f}")
    warm = dict(rows)["end to end, warm"]
    print(f"target: under 3 s end to end; warm build is {warm / 3:.2f}x of the target")


if __name__ == "__main__":
    main()
