"""python manage.py run_audit --as USER (registered inputs | --data FILE) --label COL --protected COL[,COL] [...]

``--protected`` names columns (each its own role), or maps a policy's roles to the data's columns:
``--protected sex=gender,race_ethnicity=race``. ``--unknown ROLE=TOKEN`` (repeatable) declares a value meaning
"unknown" besides an empty cell, and ``--exclusions FILE.json`` the groups left out of impact ratios with the
auditor's justification, as the API's ``column_roles`` takes them. ``--derived-from ROLE=COL`` (repeatable) declares
a feature the protected column is derived from (``age_group=age``): explainability counts its attribution as the
role's.

``--ll144-summary DIR`` writes the run's NYC Local Law 144 summary of results (``audits.ll144``) to DIR/summary.json
and DIR/summary.csv, as ``GET /api/v1/audits/{id}/ll144-summary/`` gives it; ``--ll144-meta FILE.json`` holds the
auditor's fields (distribution date, data source and explanation, historical or test data, the auditor's statement).
Fields not given are listed as missing in the summary. The fields are not stored with the run.

Runs an audit in this process, as a named user, through the same actions as ``POST /api/v1/audits/`` (so the same
roles, team rules and duplicate-run rule apply), and exits with the verdict:

    0 pass, 1 fail, 2 insufficient evidence, 3 error

An error is anything that stops an audit from giving a verdict: bad arguments (argparse's usage errors included), an
unknown or inactive user, a refused role, an unknown model, dataset or policy, a missing column, an unreadable file,
or an audit that ended in status ``error``. Its message goes to stderr, without a traceback.

Registered inputs: ``--model NAME --version N --dataset NAME --dataset-version N``.

Ad hoc (for scripts): ``--data FILE`` and ``--prediction COL`` or ``--score COL --threshold T``. The file is
registered when it is not there yet (``--dataset NAME``, ``--model NAME``, ``--team SLUG``, ``--risk-answers
FILE.json``), and the run is run here to its end, by ``audits.actions_file.do_audit_file``: its docstring has the rules.
This command is argument parsing and output around that one action, which the API can use too.

Output: a readable summary, or with ``--json`` the run's JSON exactly as ``GET /api/v1/audits/{id}/`` returns it,
plus ``group_metrics``, each group's rates under fairlearn's names::

    group_metrics.groupings.<grouping>.<group>.{count, selection_rate, true_positive_rate, false_positive_rate,
        false_negative_rate, true_negative_rate, precision, <rate>_interval, below_min_group_size}

e.g. ``group_metrics.groupings.sex["sex=female"].selection_rate``. They are the run's recorded results (every audit
records them, whichever checks its policy names, and they are covered by the results' hash). A run that ended in
error has ``group_metrics: null``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.renderers import JSONRenderer

from audits.actions_file import FileInputs, RegisteredInputs, do_audit_file
from audits.api.serializers import AuditRunSerializer, ColumnRolesSerializer
from audits.ll144 import META_FIELDS as LL144_FIELDS
from audits.ll144 import LL144Error, parse_meta, summary_csv
from audits.ll144_runs import summary_for_run
from audits.models import AuditRun, PolicyVersion, RunStatus, Verdict
from governance.access.actions import ActionError
from governance.access.models import User
from governance.trail.log import Actor

EXIT_CODES = {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.INSUFFICIENT: 2}
EXIT_ERROR = 3

# ColumnRolesSerializer's fields as this command's options, for its error messages.
OPTION_OF_FIELD = {
    "label": "--label",
    "protected": "--protected",
    "favourable": "--favourable",
    "prediction": "--prediction",
    "score": "--score",
    "threshold": "--threshold",
    "reference_groups": "--reference",
    "features": "--features",
    "unknown_values": "--unknown",
    "exclusions": "--exclusions",
    "derived_from": "--derived-from",
}


def refuse(message: str) -> NoReturn:
    raise CommandError(message, returncode=EXIT_ERROR)


class _Parser(CommandParser):
    """Django's parser, except that a usage error exits 3 (error), never argparse's 2 (insufficient evidence)."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            self.print_usage(sys.stderr)
            self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")
        refuse(f"Error: {message}")


class Command(BaseCommand):
    help = (
        "Run an audit as a named user and exit with its verdict: 0 pass, 1 fail, 2 insufficient evidence, 3 error. "
        "Name registered inputs (--model, --version, --dataset, --dataset-version), or give --data FILE to register "
        "a file of predictions (and a predictions-only model version) when it is not there yet. The same rules as "
        "the API apply."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # "resolve": this command's --version (of the model) replaces Django's --version (of Django).
        kwargs.setdefault("conflict_handler", "resolve")
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _Parser  # Django builds a CommandParser; ours differs only in how usage errors exit
        # --skip-checks is the default (the option stays accepted): the system checks import every URLconf, view and
        # serializer of the project before the audit starts; `manage.py check` and the server run them.
        parser.set_defaults(skip_checks=True)
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as", dest="username", required=True, help="the user who runs the audit")
        inputs = parser.add_argument_group("registered inputs")
        inputs.add_argument("--model", metavar="NAME", help="the model's name (ad hoc: default, the dataset's name)")
        inputs.add_argument("--version", type=int, metavar="N", help="the model version's number")
        inputs.add_argument(
            "--dataset", metavar="NAME", help="the dataset's name (ad hoc: default, a slug of the file name)"
        )
        inputs.add_argument("--dataset-version", type=int, metavar="N", help="the dataset version's number")
        ad_hoc = parser.add_argument_group("ad hoc inputs")
        ad_hoc.add_argument("--data", metavar="FILE", help="a CSV or Parquet file of labels, decisions and groups")
        ad_hoc.add_argument("--team", metavar="SLUG", help="the team a new dataset or model is registered for")
        ad_hoc.add_argument(
            "--risk-answers", metavar="FILE.json", help="risk questionnaire answers for a new model (default minimal)"
        )
        roles = parser.add_argument_group("column roles")
        roles.add_argument("--label", required=True, metavar="COL", help="the true outcome")
        roles.add_argument("--prediction", metavar="COL", help="the decision (same values as the label)")
        roles.add_argument("--score", metavar="COL", help="a score, made a decision by --threshold")
        roles.add_argument("--threshold", type=float, metavar="T", help="favourable when score >= T")
        roles.add_argument(
            "--protected",
            required=True,
            action="append",
            metavar="COL[,COL...]|ROLE=COL[,ROLE=COL...]",
            help="protected attribute columns, or a policy's roles mapped to columns (--protected sex=gender)",
        )
        roles.add_argument(
            "--unknown",
            action="append",
            default=[],
            metavar="ROLE=TOKEN",
            help="a value that means unknown in a protected column, besides an empty cell (repeatable)",
        )
        roles.add_argument(
            "--exclusions",
            metavar="FILE.json",
            help='groups left out of impact ratios, with the justification: {"race_ethnicity=Other": "why..."}',
        )
        roles.add_argument(
            "--derived-from",
            action="append",
            default=[],
            metavar="ROLE=COL",
            help="a feature a protected column is derived from, e.g. age_group=age (repeatable)",
        )
        roles.add_argument("--favourable", metavar="VALUE", help="the favourable label value (default 1)")
        roles.add_argument(
            "--reference", action="append", default=[], metavar="ATTR=VALUE", help="a reference group (repeatable)"
        )
        roles.add_argument("--features", metavar="COL[,COL...]", help="the model's input columns (with an artifact)")
        policy = parser.add_argument_group("policy and output")
        policy.add_argument("--policy", default="baseline", metavar="NAME", help="the policy's name (default baseline)")
        policy.add_argument("--policy-version", type=int, metavar="N", help="default: its latest version")
        policy.add_argument("--force", action="store_true", help="run again even if these inputs were audited")
        policy.add_argument("--json", action="store_true", help="print the full result as JSON")
        ll144 = parser.add_argument_group("NYC Local Law 144 summary of results")
        ll144.add_argument(
            "--ll144-summary", metavar="DIR", help="write the run's LL144 summary to DIR/summary.json and summary.csv"
        )
        ll144.add_argument(
            "--ll144-meta",
            metavar="FILE.json",
            help="the auditor's fields for the summary: " + ", ".join(LL144_FIELDS) + " (a JSON object)",
        )

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
        except Exception as exc:  # a bug must exit 3 (error), not Python's 1, which here means "fail"
            if "--traceback" in argv:
                traceback.print_exc()
            self.stderr.write(f"run_audit: unexpected error: {exc.__class__.__name__}: {exc}")
            sys.exit(EXIT_ERROR)

    def handle(self, *args: Any, **options: Any) -> None:
        roles = column_roles(options)
        inputs = audit_inputs(options)
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            refuse(f"There is no active user named '{options['username']}'.")
        ll144_meta: dict[str, str] = {}

        def check_policy(policy_version: PolicyVersion) -> None:  # before anything is registered
            ll144_meta.update(ll144_options(options, policy_version))

        try:
            run, created = do_audit_file(
                user=user,
                actor=Actor.for_user(user),
                inputs=inputs,
                column_roles=roles,
                policy=options["policy"],
                policy_version=options["policy_version"],
                force=options["force"],
                check_policy=check_policy,
                spelling={
                    "dataset": "--dataset",
                    "model": "--model",
                    "team": "--team SLUG",
                    "risk_answers": f"--risk-answers {options['risk_answers']}",
                },
            )
        except ActionError as exc:
            refuse(str(exc))
        if options["json"]:
            payload = {**AuditRunSerializer(run).data, "group_metrics": group_metrics(run)}
            self.stdout.write(JSONRenderer().render(payload, renderer_context={"indent": 2}).decode("utf-8"))
        else:
            self.stdout.write(summary(run, created=created))
        if run.status == RunStatus.ERROR:
            refuse(f"Audit {run.pk} ended in error: {run.error}")
        if options["ll144_summary"]:
            written = write_ll144_summary(run, Path(options["ll144_summary"]), ll144_meta)
            self.stderr.write(f"LL144 summary of audit {run.pk}: {', '.join(map(str, written))}")
        code = EXIT_CODES[Verdict(run.verdict)]
        if code:
            self.stdout.flush()
            sys.exit(code)  # as Django's own makemigrations --check does: the verdict is the exit status


# --- arguments -------------------------------------------------------------------------------------------------


def _names(values: list[str] | str | None) -> list[str]:
    """Column names from repeated and/or comma-separated options."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else values
    return [name.strip() for item in items for name in item.split(",") if name.strip()]


def _protected(values: list[str]) -> list[str] | dict[str, str]:
    """--protected: a list of columns (each its own role), or ROLE=COL pairs mapping a policy's roles to columns."""
    items = _names(values)
    pairs = [item.partition("=") for item in items]
    if not any(sep for _, sep, _ in pairs):
        return items
    mapping: dict[str, str] = {}
    for item, (left, sep, right) in zip(items, pairs, strict=True):
        if not sep:
            refuse(f"--protected {item!r}: map every role to its column (ROLE=COL), or give columns only.")
        role, column = left.strip(), right.strip()
        if role in mapping:
            refuse(f"--protected: role {role!r} is mapped twice ({mapping[role]!r} and {column!r}).")
        mapping[role] = column
    return mapping


def _json_file(path: str, option: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        refuse(f"Cannot read {option} {path}: {exc.strerror or exc}.")
    except (ValueError, UnicodeDecodeError) as exc:
        refuse(f"{option} {path} is not JSON: {exc}.")


def ll144_options(options: dict[str, Any], policy_version: PolicyVersion) -> dict[str, str]:
    """--ll144-summary and --ll144-meta, checked before anything is written: the auditor's fields, a policy that
    computes the disparate-impact tables, and a directory that is one (or can be made)."""
    if options["ll144_meta"] and not options["ll144_summary"]:
        refuse("--ll144-meta gives the fields of an LL144 summary: add --ll144-summary DIR.")
    if not options["ll144_summary"]:
        return {}
    if "disparate_impact" not in (policy_version.document.get("checks") or {}):
        refuse(
            f"--ll144-summary: the policy {policy_version} names no disparate_impact check, so its results have no "
            "LL144 tables (audit under nyc-ll144)."
        )
    target = Path(options["ll144_summary"])
    if target.exists() and not target.is_dir():
        refuse(f"--ll144-summary {target}: not a directory.")
    meta = _json_file(options["ll144_meta"], "--ll144-meta") if options["ll144_meta"] else None
    try:
        return parse_meta(meta)
    except LL144Error as exc:
        refuse(f"--ll144-meta {options['ll144_meta']}: {exc}")


def write_ll144_summary(run: AuditRun, target: Path, meta: dict[str, str]) -> list[Path]:
    """The run's LL144 summary as ``target``/summary.json and ``target``/summary.csv (the directory made if need
    be); the paths written."""
    try:
        built = summary_for_run(run, meta)
    except ActionError as exc:
        refuse(f"--ll144-summary: {exc}")
    try:
        target.mkdir(parents=True, exist_ok=True)
        paths = [target / "summary.json", target / "summary.csv"]
        paths[0].write_text(json.dumps(built, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        paths[1].write_text(summary_csv(built), encoding="utf-8")
    except OSError as exc:
        refuse(f"--ll144-summary {target}: {exc.strerror or exc}.")
    return paths


def column_roles(options: dict[str, Any]) -> dict[str, Any]:
    """The column roles from the options, validated by the API's own serializer."""
    references: dict[str, str] = {}
    for entry in options["reference"]:
        attribute, sep, value = entry.partition("=")
        if not sep or not attribute.strip():
            refuse(f"--reference {entry!r}: write it as ATTRIBUTE=VALUE, e.g. --reference sex=male.")
        references[attribute.strip()] = value
    unknown: dict[str, list[str]] = {}
    for entry in options["unknown"]:
        role, sep, token = entry.partition("=")
        if not sep or not role.strip() or not token:
            refuse(f"--unknown {entry!r}: write it as ROLE=TOKEN, e.g. --unknown race=NA.")
        unknown.setdefault(role.strip(), []).append(token)
    derived: dict[str, list[str]] = {}
    for entry in options["derived_from"]:
        role, sep, source = entry.partition("=")
        if not sep or not role.strip() or not source.strip():
            refuse(f"--derived-from {entry!r}: write it as ROLE=COLUMN, e.g. --derived-from age_group=age.")
        derived.setdefault(role.strip(), []).append(source.strip())
    data: dict[str, Any] = {
        "label": options["label"],
        "protected": _protected(options["protected"]),
        "prediction": options["prediction"] or "",
        "score": options["score"] or "",
        "threshold": options["threshold"],
        "reference_groups": references,
        "features": _names(options["features"]),
    }
    if unknown:
        data["unknown_values"] = unknown
    if options["exclusions"]:
        data["exclusions"] = _json_file(options["exclusions"], "--exclusions")
    if derived:
        data["derived_from"] = derived
    if options["favourable"] is not None:
        data["favourable"] = options["favourable"]
    serializer = ColumnRolesSerializer(data=data)
    if not serializer.is_valid():
        problems = [
            f"{OPTION_OF_FIELD.get(field, field)}: "
            + " ".join(str(m).removeprefix(f"{field}: ") for m in _messages(errors))
            for field, errors in serializer.errors.items()
        ]
        refuse("; ".join(problems))
    if options["data"] and not (data["prediction"] or data["score"]):
        refuse(
            "With --data, give --prediction COL, or --score COL and --threshold T: the model version the file "
            "stands for has predictions only."
        )
    return dict(serializer.validated_data)


def _messages(errors: Any) -> list[Any]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in _messages(value)]
    return [errors]


def audit_inputs(options: dict[str, Any]) -> FileInputs | RegisteredInputs:
    """The inputs the options name: a file (--data), or registered versions."""
    if options["data"]:
        for option in ("version", "dataset_version"):
            if options[option] is not None:
                refuse(
                    f"--{option.replace('_', '-')} names a registered version; with --data the versions are found "
                    "or registered from the file."
                )
        return FileInputs(
            path=Path(options["data"]),
            dataset=options["dataset"] or "",
            model=options["model"] or "",
            team=options["team"] or "",
            risk_answers=_risk_answers(options["risk_answers"]),
        )
    for option in ("team", "risk_answers"):
        if options[option]:
            refuse(f"--{option.replace('_', '-')} applies only with --data (an ad hoc audit registers what is new).")
    names = ("model", "version", "dataset", "dataset_version")
    missing = [f"--{name.replace('_', '-')}" for name in names if options[name] is None]
    if missing:
        refuse(f"Name the inputs: --data FILE, or registered ones ({', '.join(missing)} missing).")
    return RegisteredInputs(
        model=options["model"],
        version=options["version"],
        dataset=options["dataset"],
        dataset_version=options["dataset_version"],
    )


def _risk_answers(path: str | None) -> Any:
    """--risk-answers: the file's JSON (the action checks it is a complete questionnaire), or None."""
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        refuse(f"Cannot read --risk-answers {path}: {exc.strerror or exc}.")
    except (ValueError, UnicodeDecodeError) as exc:
        refuse(f"--risk-answers {path} is not JSON: {exc}.")


# --- output ----------------------------------------------------------------------------------------------------


def summary(run: AuditRun, *, created: bool) -> str:
    """The run in words: verdict, reasons, each check's outcome and reason, and the run's id."""
    inputs = (
        f"{run.model_version} on {run.dataset_version.dataset.name} v{run.dataset_version.number}, "
        f"policy {run.policy_version}"
    )
    lines = [f"Audit {run.pk}: {run.verdict or run.status}", f"  {inputs}"]
    if not created:
        lines.append("  (an earlier run of the same inputs; --force runs them again)")
    if run.status == RunStatus.ERROR:
        return "\n".join(lines)
    lines.append("Reasons:")
    lines += [f"  - {reason}" for reason in run.verdict_reasons]
    lines.append("Checks:")
    for check in run.checks.all():
        required = "required" if check.required else "not required"
        lines.append(f"  {check.check_name}: {check.outcome} ({required}): {check.reason}")
    return "\n".join(lines)


def group_metrics(run: AuditRun) -> dict[str, Any] | None:
    """Each group's rates under fairlearn's names, by grouping and group, as the run recorded them."""
    if run.status != RunStatus.DONE:
        return None
    return {"source": "recorded", **(run.results.get("group_metrics") or {"groupings": {}})}
