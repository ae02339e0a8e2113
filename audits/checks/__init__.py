"""One module per check; each check is a small class with one job (see base.py).

The built-in checks register here, in one list (``audits.checks.registry``), rather than each in its own module:
registering from a check's module would mean importing it (scikit-learn, shap, adversarial-robustness-toolbox) just
to learn its name, title and settings, and the policy validator and the portal need those without running anything.
Here every class, chart and report section is a ``"module:attribute"`` reference, imported when it is used. The
order is the order the report draws the checks' charts.
"""

from audits.checks.external import SETTINGS as EXTERNAL_SETTINGS  # light: scipy loads only when it judges
from audits.checks.registry import CheckSpec, register
from audits.checks.settings import BUILTIN_SETTINGS

_PORTAL = "audits.portal.charts"
_CHARTS = "audits.reports.charts"
_SECTIONS = "audits.reports.document.checks"

register(
    CheckSpec(
        name="group_fairness",
        title="Group fairness",
        check="audits.checks.fairness:GroupFairnessCheck",
        settings=BUILTIN_SETTINGS["group_fairness"],
        template="audits/checks/group_fairness.html",
        portal_charts=f"{_PORTAL}:selection_rate_svgs",
        report_section=f"{_SECTIONS}:group_fairness_section",
        why_it_matters="Gaps between groups in selection or error rates are possible discrimination, which data "
        "governance must examine, prevent and mitigate (EU AI Act Art. 10(2)(f)-(g)).",
    )
)
register(
    CheckSpec(
        name="disparate_impact",
        title="Disparate impact",
        check="audits.checks.disparate_impact:DisparateImpactCheck",
        settings=BUILTIN_SETTINGS["disparate_impact"],
        template="audits/checks/disparate_impact.html",
        portal_charts=f"{_PORTAL}:impact_ratio_svgs",
        report_charts=f"{_CHARTS}.groups:plan_impact_ratio",
        report_section=f"{_SECTIONS}:disparate_impact_section",
        why_it_matters="A group selected at less than four fifths of the most selected group's rate is generally "
        "regarded as evidence of adverse impact (29 CFR 1607.4(D)); NYC Local Law 144 requires impact ratios to be "
        "published.",
    )
)
register(
    CheckSpec(
        name="performance",
        title="Performance",
        check="audits.checks.performance:PerformanceCheck",
        settings=BUILTIN_SETTINGS["performance"],
        template="audits/checks/performance.html",
        report_charts=f"{_CHARTS}.performance:plan_performance",
        report_section=f"{_SECTIONS}:performance_section",
        why_it_matters="A model less accurate than its declared level does not do what its instructions for use "
        "claim (EU AI Act Art. 15(1) and (3)); every decision it makes is less reliable.",
    )
)
register(
    CheckSpec(
        name="data_quality",
        title="Data quality",
        check="audits.checks.data_quality:DataQualityCheck",
        settings=BUILTIN_SETTINGS["data_quality"],
        template="audits/checks/data_quality.html",
        report_charts=f"{_CHARTS}.groups:plan_group_shares",
        report_section=f"{_SECTIONS}:data_quality_section",
        why_it_matters="Missing values and under-represented groups make every other figure less reliable "
        "(EU AI Act Art. 10(2)-(4)).",
    )
)
register(
    CheckSpec(
        name="explainability",
        title="Explainability (SHAP)",
        check="audits.checks.explainability:ExplainabilityCheck",
        settings=BUILTIN_SETTINGS["explainability"],
        template="audits/checks/explainability.html",
        portal_charts=f"{_PORTAL}:importance_svgs",
        report_charts=f"{_CHARTS}.explainability:plan_explainability",
        report_section=f"{_SECTIONS}:explainability_section",
        why_it_matters="Deployers must be able to interpret the system's outputs (EU AI Act Art. 13); weight on a "
        "protected attribute, or on a proxy for one, is a bias to examine.",
    )
)
register(
    CheckSpec(
        name="adversarial",
        title="Adversarial robustness",
        check="audits.checks.adversarial:AdversarialCheck",
        settings=BUILTIN_SETTINGS["adversarial"],
        template="audits/checks/adversarial.html",
        report_charts=f"{_CHARTS}.robustness:plan_robustness",
        report_section=f"{_SECTIONS}:adversarial_section",
        why_it_matters="Decisions that change under small, deliberate or random changes of the input are a "
        "robustness and security weakness (EU AI Act Art. 15(4)-(5)).",
    )
)
register(
    CheckSpec(
        name="external",
        title="Imported evidence",
        check="audits.checks.external:ExternalEvidenceCheck",
        settings=EXTERNAL_SETTINGS,
        template="audits/checks/external.html",
        report_section="audits.evidence.report:external_section",
        why_it_matters="Evaluations run with other tools (Inspect, garak, promptfoo, lm-evaluation-harness, Evidently, "
        "Giskard) are evidence of accuracy, robustness and security only when judged against a stated threshold on "
        "enough items (EU AI Act Art. 15(1)-(5)).",
    )
)
