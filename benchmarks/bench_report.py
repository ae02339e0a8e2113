"""A complete signed report of one audit run: the demo model (ONNX) on UCI German credit under a policy with every
check type and the age group x sex intersection (10 charts, about 15 pages).

    python benchmarks/bench_report.py              # target: under 3 s to build and sign, end to end
    python benchmarks/bench_report.py --repeat 5   # more rounds (the machine is shared: medians of more)

Prints, from one run: the first build in the process (paying for importing matplotlib, reportlab and pyHanko);
then, in alternating rounds, the build along the previous code paths (charts through ``savefig`` as RGBA PNG and
drawn for every report, ASCII85 page and image streams, every table cell a paragraph), the build now with an empty
chart cache (charts drawn), and with the charts cached (a second report of the same results: a version report, an
evidence bundle, the portal); then the stages separately: gathering the evidence, each chart, the layout (before and
after), the PAdES signature, offline validation. It asserts nothing about time (the machine is shared and noisy:
compare within one run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def arrange() -> Any:
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


@contextlib.contextmanager
def previous_code_paths() -> Iterator[None]:
    """The report code as it was before it was made faster, for side-by-side numbers in one process: each chart
    drawn by ``savefig`` (a layout draw, then the pixel draw) as an RGBA PNG, for every report (no chart cache),
    the PDF's streams ASCII85-encoded, and every table cell a paragraph."""
    from audits.reports import charts, service
    from audits.reports.charts import core as chart_core  # where a chart is rendered
    from audits.reports.document import builder as document  # the layout's switches live where they are read

    render, cached = chart_core._render, service.cached_charts
    ascii85, plain_cells = document.ASCII85_STREAMS, document.PLAIN_TEXT_CELLS

    def savefig_render(figure: Any, fmt: Any) -> bytes | str:
        if fmt != "png":
            return render(figure, fmt)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=chart_core.PNG_DPI, metadata={"Software": None})
        return out.getvalue()

    chart_core._render = savefig_render  # type: ignore[assignment]
    service.cached_charts = lambda results, *, fmt: charts.charts_for_results(results, fmt=fmt)  # type: ignore[assignment]
    document.ASCII85_STREAMS, document.PLAIN_TEXT_CELLS = True, False
    try:
        yield
    finally:
        chart_core._render, service.cached_charts = render, cached  # type: ignore[assignment]
        document.ASCII85_STREAMS, document.PLAIN_TEXT_CELLS = ascii85, plain_cells


def clear_chart_cache() -> None:
    from django.core.cache import cache

    cache.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of before / after (cold cache) / after (warm)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    configure(os.environ.get("DATABASE_URL"))
    import logging

    logging.disable(logging.INFO)
    from audits.reports import service
    from audits.reports.chart_cache import cached_charts
    from audits.reports.charts import charts_for_results
    from governance.trail.log import Actor

    began = time.perf_counter()
    run = arrange()
    print(f"arranged a completed audit (run {run.pk}, verdict {run.verdict}) in {time.perf_counter() - began:.1f} s")

    def build() -> Any:
        return service.build_run_report(run, actor=Actor.system())

    start = time.perf_counter()
    build()
    first = time.perf_counter() - start

    # End to end, in alternating rounds so that load on the shared machine falls on every variant alike.
    ends: dict[str, list[float]] = {"before": [], "after, charts drawn": [], "after, charts cached": []}
    sizes: dict[str, int] = {}
    for _ in range(args.repeat):
        with previous_code_paths():
            start = time.perf_counter()
            report = build()
            ends["before"].append(time.perf_counter() - start)
            sizes["before"] = report.size
        clear_chart_cache()
        start = time.perf_counter()
        report = build()
        ends["after, charts drawn"].append(time.perf_counter() - start)
        start = time.perf_counter()
        report = build()
        ends["after, charts cached"].append(time.perf_counter() - start)
        sizes["after"] = report.size

    # The stages, warm, one by one.
    from audits.reports import charts as chart_module
    from audits.reports.document import render_report
    from audits.reports.signing import load_identity, sign_pdf, validate_pdf

    rows: list[tuple[str, float]] = []

    def timed(label: str, work: Any) -> Any:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            value = work()
            times.append(time.perf_counter() - start)
        rows.append((label, statistics.median(times)))
        return value

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
    with previous_code_paths():
        old_charts = timed(f"{len(single)} charts (PNG), before: savefig", lambda: charts_for_results(run.results))
    charts = timed(f"{len(single)} charts (PNG), after: one draw each", lambda: charts_for_results(run.results))
    chart_rows: list[tuple[str, float]] = []
    for key, draw in single.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            draw()
            times.append(time.perf_counter() - start)
        chart_rows.append((f"  chart {key}", statistics.median(times)))
    cached_charts(run.results, fmt="png")
    timed(f"{len(single)} charts (PNG), after: from the cache", lambda: cached_charts(run.results, fmt="png"))
    with previous_code_paths():
        timed(
            "reportlab layout, before (ASCII85, RGBA charts, paragraph cells)",
            lambda: render_report(context, {run.pk: old_charts}),
        )
    pdf, _pages = timed("reportlab layout, after", lambda: render_report(context, {run.pk: charts}))
    signed = timed("PAdES signature (pyHanko)", lambda: sign_pdf(pdf, reason="bench", identity=identity))
    timed("offline validation (pyHanko)", lambda: validate_pdf(signed.pdf))

    print(
        f"report: {report.pages} pages, {len(charts)} charts; {sizes['before'] / 1e3:.0f} kB before, "
        f"{sizes['after'] / 1e3:.0f} kB after"
    )
    end_rows = [(f"end to end, {label}", statistics.median(times)) for label, times in ends.items()]
    width = max(len(label) for label, _ in [*rows, *chart_rows, *end_rows]) + 2
    print(f"{'stage (median of ' + str(args.repeat) + ')':<{width}}  seconds")
    print(f"{'end to end, first in the process (imports)':<{width}}  {first:7.3f}")
    for label, seconds in end_rows:
        print(f"{label:<{width}}  {seconds:7.3f}")
    for label, seconds in rows[:3]:
        print(f"{label:<{width}}  {seconds:7.3f}")
    for label, seconds in chart_rows:
        print(f"{label:<{width}}  {seconds:7.3f}")
    for label, seconds in rows[3:]:
        print(f"{label:<{width}}  {seconds:7.3f}")
    before = statistics.median(ends["before"])
    drawn = statistics.median(ends["after, charts drawn"])
    cached = statistics.median(ends["after, charts cached"])
    print(
        f"after / before: {drawn / before:.2f} with charts drawn, {cached / before:.2f} with charts cached; "
        f"target under 3 s: after is {drawn / 3:.2f}x of it (charts drawn)"
    )


if __name__ == "__main__":
    main()
