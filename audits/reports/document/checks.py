"""One section per audit run: its verdict, inputs and reproduction, one section per check (its ``report_section``,
titled by its ``title``, both in ``audits.checks.registry``) with its thresholds, tables and charts, the groups not
judged, the group metrics and, when the policy is LL144's, the bias-audit summary."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from audits.checks import registry
from audits.checks.facts import group_facts
from audits.reports.charts.core import Chart
from audits.reports.document.builder import OUTCOME_WORDS, _Builder, _Markup, esc, fmt_interval, fmt_number
from audits.reports.document.ll144 import _ll144


def check_title(name: str) -> str:
    """The title of a check's section (its ``title`` in ``audits.checks.registry``), or its name when unregistered."""
    spec = registry.find(name)
    return spec.title if spec else name


def check_section(name: str) -> Callable[[_Builder, Mapping[str, Any]], None]:
    """The function that lays out a check's tables (its ``report_section``), or the generic table of its fields."""
    spec = registry.find(name)
    section = spec.get("report_section") if spec else None
    return section or _check_generic


def _rates_table(b: _Builder, groups: Sequence[Mapping[str, Any]]) -> None:
    rows = []
    for g in groups:
        rows.append(
            (
                g["group"] + (" (small)" if g.get("below_min_group_size") else ""),
                fmt_number(g.get("count")),
                _Markup(f"{fmt_number(g.get('selection_rate'))}<br/>{fmt_interval(g.get('selection_rate_interval'))}"),
                _Markup(
                    f"{fmt_number(g.get('true_positive_rate'))}<br/>{fmt_interval(g.get('true_positive_rate_interval'))}"
                ),
                _Markup(
                    f"{fmt_number(g.get('false_positive_rate'))}<br/>{fmt_interval(g.get('false_positive_rate_interval'))}"
                ),
                _Markup(f"{fmt_number(g.get('precision'))}<br/>{fmt_interval(g.get('precision_interval'))}"),
            )
        )
    b.table(
        ["Group", "Count", "Selection rate [95% CI]", "True-positive rate", "False-positive rate", "Precision"],
        rows,
        widths=(0.26, 0.08, 0.17, 0.17, 0.16, 0.16),
    )


def _thresholds(b: _Builder, details: Mapping[str, Any]) -> None:
    """The thresholds a check applied and their basis, from whichever shape the check stored them in."""
    rows: list[tuple[Any, ...]] = []
    thresholds = details.get("thresholds")
    if isinstance(thresholds, dict):
        for name, spec in thresholds.items():
            basis = spec.get("basis") or {}
            rows.append((name.replace("_", " "), fmt_number(spec.get("value")), basis.get("citation", "")))
    elif isinstance(thresholds, list):
        for spec in thresholds:
            basis = spec.get("basis") or {}
            rows.append(
                (
                    f"{spec.get('metric')} (measured {fmt_number(spec.get('value'))})",
                    fmt_number(spec.get("limit")),
                    basis.get("citation", ""),
                )
            )
    for key, value in details.items():
        if key.endswith("_basis") and isinstance(value, dict):
            name = key[: -len("_basis")]
            rows.append((name.replace("_", " "), fmt_number(details.get(name)), value.get("citation", "")))
    basis = details.get("basis")
    if isinstance(basis, dict):
        limit_key = next(
            (k for k in details if k.endswith(("_min", "_max")) and not isinstance(details[k], dict)), None
        )
        rows.append(
            (
                (limit_key or "threshold").replace("_", " "),
                fmt_number(details.get(limit_key)) if limit_key else "",
                basis.get("citation", ""),
            )
        )
    if rows:
        b.h3("Thresholds and their basis")
        b.table(["Threshold", "Value", "Basis (citation)"], rows, widths=(0.3, 0.1, 0.6))


def performance_section(b: _Builder, d: Mapping[str, Any]) -> None:
    overall = d.get("overall") or {}
    b.h3("Overall")
    b.table(["Metric", "Value"], [(k.replace("_", " "), fmt_number(v)) for k, v in overall.items()], widths=(0.4, 0.6))
    per_group = d.get("per_group") or {}
    if per_group:
        metrics = [k for k in next(iter(per_group.values())) if k not in ("count", "below_min_group_size")]
        b.h3("By group")
        b.table(
            ["Group", "Count", *[m.replace("_", " ") for m in metrics]],
            [(g, fmt_number(v.get("count")), *[fmt_number(v.get(m)) for m in metrics]) for g, v in per_group.items()],
        )


def group_fairness_section(b: _Builder, d: Mapping[str, Any]) -> None:
    for grouping in d.get("groupings") or []:
        b.h3(f"Grouping: {grouping['grouping']}")
        summary = grouping.get("summary") or {}
        rows = [(k.replace("_", " "), fmt_number(v)) for k, v in summary.items() if not isinstance(v, dict)]
        for k, v in summary.items():
            if isinstance(v, dict):
                rows += [(f"{k.replace('_', ' ')}: {g}", fmt_number(x)) for g, x in v.items()]
        b.table(["Measure", "Value"], rows, widths=(0.6, 0.4))
        _rates_table(b, grouping.get("groups") or [])


def disparate_impact_section(b: _Builder, d: Mapping[str, Any]) -> None:
    b.para(
        f"Rate compared: {esc(d.get('rate'))}; minimum impact ratio {fmt_number(d.get('impact_ratio_min'))}.", "small"
    )
    for grouping in d.get("groupings") or []:
        b.h3(f"Grouping: {grouping['grouping']} (reference {grouping.get('reference_group')})")
        b.table(
            ["Group", "Count", "Selected", "Rate [95% CI]", "Impact ratio", "Test, p", "Significant", "Four-fifths"],
            [
                (
                    g["group"]
                    + (" (reference)" if g.get("reference") else "")
                    + (" (left out: small share)" if g.get("excluded_below_share") else ""),
                    fmt_number(g.get("count")),
                    fmt_number(g.get("selected")),
                    _Markup(
                        f"{fmt_number(g.get('selection_rate'))}<br/>{fmt_interval(g.get('selection_rate_interval'))}"
                    ),
                    fmt_number(g.get("impact_ratio")),
                    f"{(g.get('test') or '').replace('_', ' ')} {fmt_number(g.get('p_value'))}"
                    if g.get("test")
                    else "",
                    fmt_number(g.get("significant")) if "significant" in g else "",
                    ("passes" if g["passes_four_fifths"] else "fails") if "passes_four_fifths" in g else "",
                )
                for g in grouping.get("groups") or []
            ],
            widths=(0.2, 0.08, 0.1, 0.15, 0.1, 0.15, 0.12, 0.1),
        )


def data_quality_section(b: _Builder, d: Mapping[str, Any]) -> None:
    missing = d.get("missing_fraction") or {}
    with_missing = [(c, fmt_number(v)) for c, v in missing.items() if v]
    b.h3("Missing values")
    if with_missing:
        b.table(["Column", "Missing fraction"], with_missing, widths=(0.5, 0.5))
    else:
        b.text(f"No missing values in any of the {len(missing)} columns.")
    balance = d.get("label_balance") or {}
    rows = [("Duplicate rows", fmt_number(d.get("duplicate_rows")))]
    if balance:
        rows.append((f"Label balance ({balance.get('column')})", json.dumps(balance.get("counts"), sort_keys=True)))
        rows.append(("Minority class fraction", fmt_number(balance.get("minority_fraction"))))
    b.table(["Measure", "Value"], rows, widths=(0.5, 0.5))
    shares = d.get("group_shares") or {}
    if shares:
        b.h3("Group shares")
        b.table(
            ["Attribute", "Group", "Share"],
            [(a, g, fmt_number(s)) for a, groups in shares.items() for g, s in groups.items()],
            widths=(0.35, 0.35, 0.3),
        )
    comparison = d.get("population_comparison") or []
    if comparison:
        b.h3("Against the declared population")
        keys = list(comparison[0])
        b.table(keys, [[fmt_number(row.get(k)) for k in keys] for row in comparison])


def explainability_section(b: _Builder, d: Mapping[str, Any]) -> None:
    coverage = d.get("coverage") or {}
    b.pairs(
        [
            ("Explainer", f"{d.get('explainer')} ({d.get('library')})"),
            ("Explained output", d.get("explained_output")),
            (
                "Rows explained",
                f"{fmt_number(coverage.get('rows_explained'))} of {fmt_number(coverage.get('rows_sampled'))} "
                f"sampled; background {fmt_number(coverage.get('background_rows'))} rows",
            ),
            (
                "Share of attribution on protected attributes (and the features counted for them)",
                fmt_number(d.get("protected_share")),
            ),
            ("Note", d.get("explainer_note")),
        ]
    )
    importance = d.get("global_importance") or []
    if importance:
        b.h3("Global importance")
        b.table(
            ["Rank", "Feature", "Mean |SHAP|", "Share"],
            [
                (e.get("rank"), e["feature"], fmt_number(e.get("mean_abs_shap"), 4), fmt_number(e.get("share")))
                for e in importance
            ],
            widths=(0.1, 0.4, 0.25, 0.25),
        )
    proxies = d.get("proxies") or []
    b.h3("Possible proxies for protected attributes")
    b.table(
        ["Feature", "Attribute", "Cramér's V", "Rank", "Share"],
        [
            (p["feature"], p["attribute"], fmt_number(p.get("cramers_v")), p.get("rank"), fmt_number(p.get("share")))
            for p in proxies
        ],
        widths=(0.3, 0.25, 0.15, 0.1, 0.2),
    )
    counted = d.get("counted_features")
    if counted is not None:
        b.h3("Features counted in the protected share")
        b.table(
            ["Feature", "Counted because", "Rank", "Share"],
            [
                (e["feature"], "; ".join(map(_counted_because, e["because"])), e["rank"], fmt_number(e["share"]))
                for e in counted
            ],
            widths=(0.25, 0.5, 0.1, 0.15),
        )


def _counted_because(reason: Mapping[str, Any]) -> str:
    """Why explainability counted a feature as a protected attribute's (its ``counted_features`` entries)."""
    if reason.get("why") == "model_input":
        return f"is the protected attribute {reason.get('attribute')}"
    if reason.get("why") == "declared":
        return f"{reason.get('attribute')} is derived from it (declared in the column roles)"
    measure = {"cramers_v": "Cramér's V"}.get(str(reason.get("measure")), str(reason.get("measure")))
    return f"{measure} {fmt_number(reason.get('value'), 2)} with {reason.get('attribute')}"


def adversarial_section(b: _Builder, d: Mapping[str, Any]) -> None:
    attack = d.get("attack") or {}
    b.h3("Evasion attack")
    b.pairs(
        [
            ("Attack", f"{attack.get('name')} ({attack.get('library', '')})"),
            ("Ran", fmt_number(attack.get("ran"))),
            (
                "Rows attacked",
                f"{fmt_number(attack.get('rows_attacked'))} of {fmt_number(attack.get('rows_sampled'))} sampled",
            ),
            ("Epsilon", f"{fmt_number(d.get('epsilon'))} ({d.get('perturbation_unit', '')})"),
            (
                "Succeeded within epsilon",
                f"{fmt_number(attack.get('succeeded_within_epsilon'))} "
                f"({fmt_number(attack.get('success_rate_within_epsilon'))}; "
                f"maximum {fmt_number(d.get('max_success_rate'))})",
            ),
            ("Flipped at any distance", fmt_number(attack.get("flipped_at_any_distance"))),
            ("Median perturbation when flipped", fmt_number(attack.get("median_perturbation"))),
            ("Stopped by the time budget", fmt_number(attack.get("stopped_by_time_budget"))),
        ]
    )
    noise = d.get("noise") or {}
    if noise:
        b.h3("Random noise")
        b.pairs([(k.replace("_", " "), fmt_number(v)) for k, v in noise.items()])
    attributes = (d.get("counterfactual") or {}).get("attributes") or []
    if attributes:
        b.h3("Counterfactual: only a protected attribute changes")
        b.table(
            ["Attribute", "Model input", "Flipped", "Flip rate", "Note"],
            [
                (
                    a["attribute"],
                    fmt_number(a.get("model_input")),
                    fmt_number(a.get("flipped")),
                    fmt_number(a.get("flip_rate")),
                    a.get("note", ""),
                )
                for a in attributes
            ],
            widths=(0.18, 0.12, 0.1, 0.1, 0.5),
        )


def _check_generic(b: _Builder, d: Mapping[str, Any]) -> None:
    rows = [
        (k, fmt_number(v)) for k, v in d.items() if not isinstance(v, dict | list) and k not in ("outcome", "reason")
    ]
    b.table(["Field", "Value"], rows, widths=(0.4, 0.6))


def _source_pairs(reading: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """How a source was read (engine and mode) and, when the engine drew one, its sample: method, seed, size."""
    if not reading:
        return []
    pairs = [("Data source", f"read by {reading.get('engine')} ({reading.get('mode')}): {reading.get('why')}")]
    sample = reading.get("sample")
    if sample:
        pairs.append(
            (
                "Engine sample",
                f"{sample['rows']:,} of {sample['of_rows']:,} rows, seed {sample['seed']}, method {sample['method']} "
                f"({sample['how']}), drawn by {sample['engine']}",
            )
        )
    return pairs


def _run_sections(b: _Builder, ctx: Mapping[str, Any], charts: Mapping[int, Sequence[Chart]]) -> None:
    for run in ctx["runs"]:
        policy = run["policy"]
        b.h1(f"Audit run #{run['id']}: {policy['name']} v{policy['version']}")
        b.para(f"Verdict: {b.outcome(run['verdict'])}")
        for reason in run["verdict_reasons"]:
            b.para(f"• {esc(reason)}", "small")
        b.h2(f"Audit inputs and reproduction (run #{run['id']})")
        b.pairs(
            [
                ("Policy", f"{policy['name']} v{policy['version']}: {policy['title']}"),
                ("Policy SHA-256", policy["sha256"]),
                ("Evaluation dataset", run["dataset"]),
                ("Column roles", json.dumps(run["column_roles"], sort_keys=True)),
                ("Started by", f"{run['created_by']} at {run['created_at']}"),
                ("Finished", f"{run['finished_at']} ({fmt_number(run['duration_seconds'], 1)} s)"),
                ("Results SHA-256", run["results_sha256"]),
                ("Seeds", json.dumps(run["seeds"], sort_keys=True)),
                *_source_pairs(run.get("data_source")),
            ]
        )
        b.table(
            ["Input", "SHA-256 or reference"],
            [(k.replace("_", " "), v if v is not None else "n/a") for k, v in sorted(run["input_hashes"].items())],
            widths=(0.3, 0.7),
            mono_columns=(1,),
        )
        b.table(
            ["Library", "Version"],
            sorted(run["library_versions"].items()),
            widths=(0.5, 0.5),
        )
        run_charts = list(charts.get(run["id"], ()))
        check_names = {c["name"] for c in run["checks"]}
        for check in run["checks"]:
            name = check["name"]
            b.h2(f"{check_title(name)}: {OUTCOME_WORDS.get(check['outcome'], check['outcome'])} (run #{run['id']})")
            b.para(f"{b.outcome(check['outcome'])}{'' if check['required'] else ' (optional)'}: {esc(check['reason'])}")
            _thresholds(b, check["details"])
            check_section(name)(b, check["details"])
            for chart in run_charts:
                if chart.check == name:
                    b.chart(chart)
        _groups_not_judged(b, run)
        leftover = [c for c in run_charts if c.check not in check_names]
        if leftover or run.get("group_metrics"):
            b.h2(f"Group metrics (recorded with every run; run #{run['id']})")
            for grouping, groups in (run.get("group_metrics") or {}).items():
                b.h3(f"Grouping: {grouping}")
                _rates_table(b, [{"group": g, **v} for g, v in groups.items()])
            for chart in leftover:
                b.chart(chart)
        if run.get("ll144"):
            _ll144(b, run)


def _groups_not_judged(b: _Builder, run: Mapping[str, Any]) -> None:
    """The groups the run's checks did not judge as such (unknown category, excluded, too small, undefined rate),
    from :func:`audits.checks.facts.group_facts`, the function the gate's reasons and monitoring read too."""
    facts = group_facts({"checks": {check["name"]: check["details"] for check in run["checks"]}})
    if not facts:
        return
    b.h2(f"Groups not judged (run #{run['id']})")
    b.table(
        ["Check", "Grouping", "Group", "Fact", "Rows", "Share", "Rate"],
        [
            (
                f["check"],
                f["grouping"],
                f["group"] or "(unknown category)",
                f["kind"],
                fmt_number(f["count"]),
                fmt_number(f["share"]),
                fmt_number(f["rate"]),
            )
            for f in facts
        ],
        widths=(0.17, 0.16, 0.25, 0.12, 0.08, 0.1, 0.12),
    )
    b.text("Share: of all rows for the unknown category, of the known rows for a group.", "small")
    for fact in facts:
        b.para(f"• {esc(fact['reason'].rstrip('.'))}.", "small")
