"""Reading a production batch in chunks and computing every monitoring statistic for it (pure: no Django).

``BatchSpec`` says which columns play which part (from the version's monitoring configuration);
``check_columns`` refuses a batch whose columns do not match, naming the missing and the unexpected ones;
``iter_chunks`` streams a CSV or Parquet file as Arrow record batches with the types the spec demands (a wrong type
is refused naming the column); ``profile_reference`` profiles a reference table once; ``compute`` makes one pass
over a batch against that profile and returns plain JSON (drift per feature, prediction, score and label drift,
performance when labels exist, live fairness per group under the audits' rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audits.checks.base import CheckContext
from audits.checks.disparate_impact import DisparateImpactCheck
from audits.engine import json_safe
from audits.evaluation import ColumnRoles, Evaluation
from audits.monitoring import drift
from governance.data.ingest import delimiter_problem

NUMERIC, CATEGORICAL = "numeric", "categorical"
FAVOURABLE, UNFAVOURABLE = "favourable", "unfavourable"
CHUNK_ROWS = 131_072
CSV_BLOCK_BYTES = 8 << 20
MAX_FIELD_CHARS = 100_000  # a text value longer than this is refused (a hostile huge field, not a category)


class BatchError(ValueError):
    """A batch (or reference) that cannot be monitored as given; the message says why, naming the column."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BatchSpec:
    """The columns of a monitored version's batches and what each one is."""

    features: tuple[tuple[str, str], ...]  # (name, "numeric" | "categorical")
    prediction: str = ""
    score: str = ""
    threshold: float | None = None
    favourable: str = "1"
    label: str = ""
    protected: tuple[str, ...] = ()
    reference_groups: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> BatchSpec:
        return cls(
            features=tuple((f["name"], f["kind"]) for f in value["features"]),
            prediction=value.get("prediction") or "",
            score=value.get("score") or "",
            threshold=value.get("threshold"),
            favourable=str(value.get("favourable", "1")),
            label=value.get("label") or "",
            protected=tuple(value.get("protected") or ()),
            reference_groups=dict(value.get("reference_groups") or {}),
        )

    def numeric_columns(self) -> set[str]:
        return {name for name, kind in self.features if kind == NUMERIC} | ({self.score} if self.score else set())

    def text_columns(self) -> set[str]:
        names = {name for name, kind in self.features if kind == CATEGORICAL}
        return names | {c for c in (self.prediction, self.label, *self.protected) if c}

    def required(self) -> list[str]:
        return [name for name, _ in self.features] + [c for c in (self.prediction, self.score) if c]

    def optional(self) -> list[str]:
        return [c for c in (self.label, *self.protected) if c]


def check_delimiter(delimiter: str) -> str:
    """The CSV delimiter to read with (``\t``, the two characters a person types for a tab, is a tab), by the same
    rule as dataset uploads (``governance.data.ingest.delimiter_problem``); refused with a ``BatchError``."""
    problem = delimiter_problem(delimiter)
    if problem:
        raise BatchError(problem, field="delimiter")
    return "\t" if delimiter == "\\t" else delimiter


def check_columns(names: Sequence[str], spec: BatchSpec, *, labels_only: bool = False) -> None:
    """Refuse columns that do not match the spec, naming every missing and every unexpected column."""
    required = [spec.label] if labels_only else spec.required()
    allowed = set(required) | (set() if labels_only else set(spec.optional()))
    missing = [name for name in required if name not in names]
    extra = [name for name in names if name not in allowed]
    duplicated = sorted({name for name in names if list(names).count(name) > 1})
    problems = []
    if missing:
        problems.append("missing columns: " + ", ".join(repr(n) for n in missing))
    if extra:
        shown = ", ".join(repr(drift.category_label(n)[:80]) for n in extra[:20])
        problems.append(f"unexpected columns: {shown}" + (f" and {len(extra) - 20} more" if len(extra) > 20 else ""))
    if duplicated:
        problems.append("repeated columns: " + ", ".join(repr(n) for n in duplicated))
    if problems:
        expected = ", ".join(required) + (f" (optional: {', '.join(spec.optional())})" if spec.optional() else "")
        raise BatchError(
            "The batch's columns do not match the model's input schema: " + "; ".join(problems) + f". Expected: "
            f"{expected}.",
            field="file",
        )


# --- reading -------------------------------------------------------------------------------------------------------


def _csv_names(path: Path, delimiter: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.csv as pv

    try:
        reader = pv.open_csv(
            path,
            read_options=pv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pv.ParseOptions(delimiter=delimiter),
            convert_options=pv.ConvertOptions(column_types={}),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise BatchError(_arrow_message(exc, names=[])) from None
    return list(reader.schema.names)


def column_names(path: Path, *, fmt: str, delimiter: str = ",") -> list[str]:
    """The column names of a CSV or Parquet file (reads only its header or footer)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as exc:
            raise BatchError(f"The Parquet file cannot be read: {type(exc).__name__}.") from None
    return _csv_names(path, delimiter)


def _arrow_message(exc: Exception, *, names: Sequence[str]) -> str:
    text = str(exc)
    found = re.search(r"column #(\d+)", text)
    value = re.search(r"invalid value '(.{0,60})", text)
    if "straddling" in text or ("block" in text.lower() and "larger" in text.lower()):
        return f"A CSV field is larger than {CSV_BLOCK_BYTES // (1 << 20)} MiB; fields that large are refused."
    if found and int(found.group(1)) < len(names):
        column = names[int(found.group(1))]
        shown = f" (found {value.group(1)!r})" if value else ""
        return f"Column {column!r} must hold numbers{shown}."
    if isinstance(exc, UnicodeDecodeError):
        return "The CSV file is not UTF-8 text."
    return f"The file cannot be parsed: {text[:200]}"


def iter_chunks(
    path: Path, *, fmt: str, spec: BatchSpec, delimiter: str = ",", columns: Sequence[str]
) -> Iterator[Any]:
    """Record batches of ``columns`` with numeric columns as float64 and the others as text; wrong types raise
    ``BatchError`` naming the column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numeric, text = spec.numeric_columns(), spec.text_columns()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        for name in columns:
            arrow_type = schema.field(name).type
            if name in numeric and not (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
                raise BatchError(f"Column {name!r} must hold numbers; it has type {arrow_type}.")
        for record in source.iter_batches(batch_size=CHUNK_ROWS, columns=list(columns)):
            arrays = []
            for name in columns:
                values = record.column(name)
                try:
                    values = pc.cast(values, pa.float64() if name in numeric else pa.string())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise BatchError(f"Column {name!r} has values of type {values.type} that cannot be read.") from None
                arrays.append(values)
            checked = pa.RecordBatch.from_arrays(arrays, names=list(columns))
            _check_lengths(checked, text)
            yield checked
        return
    import pyarrow.csv as pv

    names = _csv_names(path, delimiter)
    types = {name: pa.float64() if name in numeric else pa.string() for name in names if name in numeric | text}
    try:
        reader = pv.open_csv(
            path,
            read_options=pv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pv.ConvertOptions(
                column_types=types,
                include_columns=list(columns),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise BatchError(_arrow_message(exc, names=names)) from None
    while True:
        try:
            record = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise BatchError(_arrow_message(exc, names=names)) from None
        _check_lengths(record, text)
        yield record


def _check_lengths(record: Any, text: set[str]) -> None:
    import pyarrow.compute as pc

    for name in record.schema.names:
        if name in text and len(record.column(name)):
            longest = pc.max(pc.utf8_length(record.column(name))).as_py()
            if longest is not None and longest > MAX_FIELD_CHARS:
                raise BatchError(f"A value in column {name!r} is longer than {MAX_FIELD_CHARS:,} characters.")


# --- reference profile ---------------------------------------------------------------------------------------------


def decisions(
    spec: BatchSpec, *, prediction: Any = None, score: np.ndarray | None = None, where: str = "batch"
) -> np.ndarray:
    """1 where the decision is favourable: the prediction (an Arrow text array) equals ``favourable``, or the score
    reaches the threshold."""
    import pyarrow.compute as pc

    if spec.prediction and prediction is not None:
        if prediction.null_count:
            raise BatchError(
                f"Column {spec.prediction!r}: {prediction.null_count} rows of the {where} have no prediction."
            )
        return np.asarray(pc.equal(prediction, spec.favourable).to_numpy(zero_copy_only=False), dtype=np.int8)
    if score is None or spec.threshold is None:
        raise BatchError("The configuration needs a prediction column, or a score column and a threshold.")
    if np.isnan(score).any():
        raise BatchError(f"Column {spec.score!r}: {int(np.isnan(score).sum())} rows of the {where} have no score.")
    return (score >= spec.threshold).astype(np.int8)


def _decision_labels(y_pred: np.ndarray) -> np.ndarray:
    return np.where(y_pred == 1, FAVOURABLE, UNFAVOURABLE).astype(object)


def profile_reference(  # noqa: PLR0912 - one branch per optional part of the profile reads clearest
    table: Any, spec: BatchSpec, *, model_decisions: np.ndarray | None = None
) -> dict[str, Any]:
    """The reference profile: every feature's, and (when the reference has them, or the model scored it) the
    decisions', the score's and the label's. ``model_decisions`` are the model's favourable decisions on the
    reference rows, for references without a prediction column."""
    import pyarrow.compute as pc

    names = table.column_names
    features: dict[str, Any] = {}
    for name, kind in spec.features:
        if name not in names:
            raise BatchError(f"The reference has no column {name!r}.", field="reference")
        column = table.column(name)
        if kind == NUMERIC:
            try:
                values = pc.cast(column, "float64").to_numpy(zero_copy_only=False)
            except Exception:
                raise BatchError(f"Reference column {name!r} is not numeric.", field="features") from None
            try:
                features[name] = drift.numeric_reference(values)
            except ValueError:
                raise BatchError(f"Reference column {name!r} has no finite values.", field="reference") from None
        else:
            features[name] = drift.categorical_reference(pc.cast(column, "string").to_pylist())
    profile: dict[str, Any] = {"rows": table.num_rows, "features": features, "decision": None, "score": None}
    score = None
    if spec.score and spec.score in names:
        try:
            score = pc.cast(table.column(spec.score), "float64").to_numpy(zero_copy_only=False)
            profile["score"] = drift.numeric_reference(score)
        except ValueError:  # pyarrow's ArrowInvalid is a ValueError too
            raise BatchError(
                f"Reference column {spec.score!r} (the score) must hold numbers, at least one of them finite.",
                field="reference",
            ) from None
    prediction = None
    if spec.prediction and spec.prediction in names:
        prediction = pc.cast(table.column(spec.prediction), "string").combine_chunks()
    y_pred: np.ndarray | None = None
    if prediction is not None or (score is not None and spec.threshold is not None):
        y_pred = decisions(spec, prediction=prediction, score=score, where="reference")
        profile["decision_source"] = "reference column"
    elif model_decisions is not None:
        y_pred = np.asarray(model_decisions, dtype=np.int8)
        profile["decision_source"] = "the model, scoring the reference"
    if y_pred is not None:
        profile["decision"] = drift.categorical_reference(_decision_labels(y_pred))
    if spec.label and spec.label in names:
        labels = pc.cast(table.column(spec.label), "string").to_pylist()
        profile["label"] = drift.categorical_reference(labels)
        if y_pred is not None:
            truth = np.asarray(labels, dtype=object) == spec.favourable
            profile["performance"] = performance(truth.astype(np.int8), y_pred, None)
    return profile


# --- one batch -------------------------------------------------------------------------------------------------------


def performance(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None) -> dict[str, Any]:
    """Accuracy, recall (of the favourable outcome) and, with scores and both classes, ROC AUC (scikit-learn)."""
    from sklearn import metrics

    both = len(np.unique(y_true)) == 2
    return {
        "rows": len(y_true),
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)) if len(y_true) else None,
        "recall": float(metrics.recall_score(y_true, y_pred, zero_division=np.nan)) if y_true.any() else None,
        "roc_auc": float(metrics.roc_auc_score(y_true, scores)) if scores is not None and both else None,
    }


@dataclass
class FairnessRules:
    """The audits' rules for live fairness: the policy's group size, confidence, intersections and threshold."""

    impact_ratio_min: float = 0.8
    min_group_size: int = 30
    confidence_level: float = 0.95
    intersections: bool | list[list[str]] = False
    reference_group: Any = None
    basis: Mapping[str, Any] | None = None
    # The policy's small-group handling ("insufficient" or "exclude", with its basis) and LL144-style exclusions
    # (the policy's exclude_groups_below_share entry; group name -> the auditor's justification), as audits apply them.
    small_groups: str = "insufficient"
    small_groups_basis: Mapping[str, Any] | None = None
    exclude_groups_below_share: Mapping[str, Any] | None = None
    exclusions: Mapping[str, str] = field(default_factory=dict)


def live_fairness(
    *,
    y_pred: np.ndarray,
    protected: Mapping[str, Any],
    spec: BatchSpec,
    rules: FairnessRules,
    row_weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Selection rates and impact ratios per group, judged exactly as the audits' disparate-impact check judges
    them (minimum group size, insufficient evidence, significance), with the monitoring threshold. With
    ``row_weights`` each row is a counted cell standing for that many rows (a batch counted by its engine)."""
    roles = ColumnRoles(
        label="",
        protected=tuple(protected),
        favourable=spec.favourable,
        prediction=spec.prediction or "decision",
        reference_groups=dict(spec.reference_groups),
        exclusions=dict(rules.exclusions),
    )
    rows = len(y_pred) if row_weights is None else int(np.sum(row_weights))
    evaluation = Evaluation(
        y_true=y_pred, y_pred=y_pred, scores=None, protected=dict(protected), roles=roles, rows=rows
    )
    evaluation.row_weights = row_weights
    settings: dict[str, Any] = {
        "impact_ratio_min": {"value": rules.impact_ratio_min, "basis": dict(rules.basis or {})},
        "rate": "selection_rate",
    }
    if rules.reference_group is not None:
        settings["reference_group"] = rules.reference_group
    if rules.exclude_groups_below_share is not None:
        settings["exclude_groups_below_share"] = dict(rules.exclude_groups_below_share)
    context = CheckContext(
        confidence_level=rules.confidence_level,
        min_group_size=rules.min_group_size,
        intersections=rules.intersections,
        small_groups=rules.small_groups,
        small_groups_basis=rules.small_groups_basis,
    )
    outcome = DisparateImpactCheck().run(evaluation, settings, context)
    return {"outcome": outcome.outcome, "reason": outcome.reason, **outcome.details}


def compute(  # noqa: PLR0912, PLR0915 - the one pass over a batch, read top to bottom
    path: Path,
    *,
    fmt: str,
    spec: BatchSpec,
    profile: Mapping[str, Any],
    rules: FairnessRules,
    delimiter: str = ",",
    labels_path: Path | None = None,
    labels_fmt: str = "csv",
    labels_delimiter: str = ",",
) -> dict[str, Any]:
    """Every statistic of one batch against the reference ``profile``, in one pass over the file (and one over the
    late labels file, when labels came separately: its rows are the batch's rows, in order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = column_names(path, fmt=fmt, delimiter=delimiter)
    check_columns(names, spec)
    present = [name for name in names if name in set(spec.required()) | set(spec.optional())]
    numeric_acc = {
        name: drift.NumericAccumulator(profile["features"][name]) for name, kind in spec.features if kind == NUMERIC
    }
    categorical_acc = {
        name: drift.CategoricalAccumulator(profile["features"][name])
        for name, kind in spec.features
        if kind == CATEGORICAL
    }
    score_acc = drift.NumericAccumulator(profile["score"]) if spec.score and profile.get("score") else None
    protected_chunks: dict[str, list[Any]] = {name: [] for name in spec.protected if name in present}
    label_chunks: list[Any] = []
    pred_chunks: list[np.ndarray] = []
    score_chunks: list[np.ndarray] = []
    rows = 0
    for record in iter_chunks(path, fmt=fmt, spec=spec, delimiter=delimiter, columns=present):
        rows += record.num_rows
        for name, acc in numeric_acc.items():
            acc.add(record.column(name).to_numpy(zero_copy_only=False))
        for name, cat in categorical_acc.items():
            counted = pc.value_counts(record.column(name))
            cat.add_counts(counted.field("values").to_pylist(), counted.field("counts").to_pylist())
        score = None
        if spec.score:
            score = record.column(spec.score).to_numpy(zero_copy_only=False)
            if score_acc is not None:
                score_acc.add(score)
            score_chunks.append(score)
        prediction = None
        if spec.prediction:
            prediction = record.column(spec.prediction)
        pred_chunks.append(decisions(spec, prediction=prediction, score=score))
        for name, chunks in protected_chunks.items():
            chunks.append(record.column(name))
        if spec.label and spec.label in present:
            label_chunks.append(record.column(spec.label))
    if rows == 0:
        raise BatchError("The batch has no rows.")
    y_pred = np.concatenate(pred_chunks)
    scores = np.concatenate(score_chunks) if score_chunks else None
    results: dict[str, Any] = {"rows": rows, "features": {}, "prediction": None, "score": None, "label": None}
    # A configured protected column the batch lacks leaves live fairness unjudged (judge.evidence_gaps says so).
    results["protected_missing"] = [name for name in spec.protected if name not in present]
    for name, acc in numeric_acc.items():
        results["features"][name] = drift.numeric_statistics(acc)
    for name, cat in categorical_acc.items():
        results["features"][name] = drift.categorical_statistics(cat)
    if profile.get("decision"):
        decision_acc = drift.CategoricalAccumulator(profile["decision"])
        favourable = int(y_pred.sum())
        decision_acc.add_counts([FAVOURABLE, UNFAVOURABLE], [favourable, rows - favourable])
        results["prediction"] = drift.categorical_statistics(decision_acc)
    results["selection_rate"] = float(y_pred.mean())
    if score_acc is not None:
        results["score"] = drift.numeric_statistics(score_acc)
    if labels_path is not None:
        label_chunks = list(_label_chunks(labels_path, fmt=labels_fmt, delimiter=labels_delimiter, spec=spec))
    if label_chunks:
        labels = pa.chunked_array(label_chunks, type=pa.string())
        if len(labels) != rows:
            raise BatchError(f"The labels file has {len(labels)} rows; the batch has {rows}.", field="labels")
        known = pc.is_valid(labels).to_numpy(zero_copy_only=False)
        truth = pc.equal(labels, spec.favourable).to_numpy(zero_copy_only=False)
        if profile.get("label"):
            label_acc = drift.CategoricalAccumulator(profile["label"])
            counted = pc.value_counts(labels)
            label_acc.add_counts(counted.field("values").to_pylist(), counted.field("counts").to_pylist())
            results["label"] = drift.categorical_statistics(label_acc)
        if known.any():
            truth_known = np.asarray(truth[known], dtype=bool).astype(np.int8)
            results["performance"] = performance(truth_known, y_pred[known], None if scores is None else scores[known])
            results["performance"]["rows_without_label"] = int((~known).sum())
    if protected_chunks:
        protected = {
            name: pa.chunked_array(chunks, type=pa.string()).combine_chunks().dictionary_encode().to_pandas()
            for name, chunks in protected_chunks.items()
        }
        results["fairness"] = json_safe(live_fairness(y_pred=y_pred, protected=protected, spec=spec, rules=rules))
    return json_safe(results)


def _label_chunks(path: Path, *, fmt: str, delimiter: str, spec: BatchSpec) -> Iterator[Any]:
    names = column_names(path, fmt=fmt, delimiter=delimiter)
    check_columns(names, spec, labels_only=True)
    for record in iter_chunks(path, fmt=fmt, spec=spec, delimiter=delimiter, columns=[spec.label]):
        yield record.column(spec.label)


def count_label_rows(path: Path, *, fmt: str, spec: BatchSpec, delimiter: str = ",") -> int:
    """The number of rows of a late labels file (checking its single column)."""
    return sum(len(chunk) for chunk in _label_chunks(path, fmt=fmt, delimiter=delimiter, spec=spec))


def validate(path: Path, *, fmt: str, spec: BatchSpec, delimiter: str = ",") -> int:
    """Read a whole batch once as the check will (columns, types, decisions); its row count, or ``BatchError``."""
    names = column_names(path, fmt=fmt, delimiter=delimiter)
    check_columns(names, spec)
    present = [name for name in names if name in set(spec.required()) | set(spec.optional())]
    rows = 0
    for record in iter_chunks(path, fmt=fmt, spec=spec, delimiter=delimiter, columns=present):
        rows += record.num_rows
        score = record.column(spec.score).to_numpy(zero_copy_only=False) if spec.score else None
        prediction = record.column(spec.prediction) if spec.prediction else None
        decisions(spec, prediction=prediction, score=score)
    if rows == 0:
        raise BatchError("The batch has no rows.")
    return rows
