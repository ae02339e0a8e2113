"""The form that starts an audit: what to audit, on which data, under which policy, and the data's column roles.

Step one picks the model version, the evaluation dataset version and the policy; step two offers the dataset's own
columns for each role. The values are then checked by the API's own serializer (``ColumnRolesSerializer``) and by
``do_start_audit``, so the portal accepts exactly what the API accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms

from governance.web.portal.access import set_choices

REQUIRED_POLICY = ""  # the policy choice "the policy the model's risk tier requires"


@dataclass(frozen=True)
class ModelInputs:
    """What a model version's artifact says of its inputs (its stored ``input_schema``): their names in order when
    it declares one named input per column (an ONNX graph with several inputs, a scikit-learn model fitted on a
    table), else how many columns its single input matrix has, when the shape says."""

    framework: str
    names: tuple[str, ...] = ()
    count: int | None = None

    @classmethod
    def of(cls, input_schema: list[dict[str, Any]], framework: str) -> ModelInputs:
        entries = [e for e in input_schema or [] if isinstance(e, Mapping)]
        if len(entries) > 1:
            names = tuple(str(e.get("name", "")) for e in entries)
            return cls(framework=framework, names=names, count=len(names))
        shape = list(entries[0].get("shape") or []) if entries else []
        width = shape[1] if len(shape) == 2 else None
        return cls(framework=framework, count=width if isinstance(width, int) and width > 0 else None)

    def said(self) -> str:
        """The inputs in words, for the form's help and errors."""
        kind = {"onnx": "The ONNX model", "skops": "The scikit-learn model"}.get(self.framework, "The model")
        if self.names:
            return f"{kind} declares its {len(self.names)} inputs, in order: {', '.join(self.names)}."
        if self.count is not None:
            return f"{kind} reads one matrix of {self.count} columns and does not name them."
        return f"{kind} reads one matrix and does not say its columns."


def _ref(value: str) -> tuple[str, int] | None:
    """``name/v3`` -> ("name", 3), or None when malformed."""
    name, _, number = value.rpartition("/v")
    if not name or not number.isascii() or not number.isdigit() or len(number) > 9:
        return None
    return name, int(number)


class AuditTargetForm(forms.Form):
    model_version = forms.ChoiceField(label="Model version")
    dataset_version = forms.ChoiceField(
        label="Evaluation dataset version", help_text="A CSV or Parquet file stored by Assay, with the true labels."
    )
    policy = forms.ChoiceField(
        label="Policy",
        required=False,
        help_text="By default the policy the model's risk tier requires (AUDIT_REQUIRED_POLICIES): only an audit "
        "under it counts for approvals and the deployment gate.",
    )

    def __init__(
        self,
        *args: Any,
        versions: list[str],
        datasets: list[str],
        policies: list[str],
        required: Mapping[str, str] | None = None,
        tiers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        """``required``: model version (``name/vN``) -> the policy its risk tier requires; ``tiers``: tier -> that
        policy, to say beside each policy which tiers require it."""
        super().__init__(*args, **kwargs)
        self.required = dict(required or {})
        by_policy: dict[str, list[str]] = {}
        for tier, name in (tiers or {}).items():
            by_policy.setdefault(name, []).append(tier)
        set_choices(
            self,
            "model_version",
            [(v, f"{v} (requires {self.required[v]})" if v in self.required else v) for v in versions],
        )
        set_choices(self, "dataset_version", [(d, d) for d in datasets])
        required_first = sorted(policies, key=lambda p: (p not in by_policy, p))
        set_choices(
            self,
            "policy",
            [
                (REQUIRED_POLICY, "The policy the model's risk tier requires"),
                *[
                    (p, f"{p} (required for {' and '.join(sorted(by_policy[p]))} risk)" if p in by_policy else p)
                    for p in required_first
                ],
            ],
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if not data.get("policy") and data.get("model_version"):
            # "The policy the model's tier requires": a tier that requires none is audited under the baseline.
            data["policy"] = self.required.get(data["model_version"]) or "baseline"
        return data

    def refs(self) -> tuple[tuple[str, int], tuple[str, int]]:
        model, dataset = _ref(self.cleaned_data["model_version"]), _ref(self.cleaned_data["dataset_version"])
        assert model is not None  # the choices are well-formed
        assert dataset is not None
        return model, dataset


class ColumnRolesForm(forms.Form):
    label = forms.ChoiceField(label="Label column (the true outcome)")
    favourable = forms.CharField(label="Favourable label value", max_length=200, initial="1")
    protected = forms.MultipleChoiceField(
        label="Protected attributes", widget=forms.CheckboxSelectMultiple, help_text="One to ten columns."
    )
    prediction = forms.ChoiceField(
        label="Decision column", required=False, help_text="Predictions-only audits: the model's decisions."
    )
    score = forms.ChoiceField(label="Score column", required=False, help_text="Or a score and a threshold.")
    threshold = forms.FloatField(label="Decision threshold", required=False, min_value=-1e12, max_value=1e12)
    features = forms.CharField(
        label="Model input features, in the model's input order",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocapitalize": "off"}),
        required=False,
        max_length=20_000,
        help_text="One dataset column per line (or separated by commas), in the order the model reads them: an ONNX "
        "or scikit-learn model reads a matrix whose columns must come in its training order. Not needed when the "
        "decisions come from a prediction or score column.",
    )
    force = forms.BooleanField(label="Run again even if the same audit exists", required=False)

    def __init__(self, *args: Any, columns: list[str], inputs: ModelInputs | None = None, **kwargs: Any):
        """``inputs``: what the model version's artifact says of its inputs (None: no artifact, so decisions must
        come from a prediction or score column)."""
        super().__init__(*args, **kwargs)
        self.columns = list(columns)
        self.inputs = inputs
        named = [(c, c) for c in columns]
        set_choices(self, "label", named)
        set_choices(self, "protected", named)
        set_choices(self, "prediction", [("", "none"), *named])
        set_choices(self, "score", [("", "none"), *named])
        if inputs is not None:
            self.fields["features"].help_text = f"{inputs.said()} {self.fields['features'].help_text}"
            if inputs.names and set(inputs.names) <= set(columns):
                self.fields["features"].initial = "\n".join(inputs.names)

    @property
    def features_needed(self) -> bool:
        """The model must be scored and its artifact does not name its inputs: the person must."""
        return self.inputs is not None and not self.inputs.names

    def clean_features(self) -> list[str]:
        names = [n.strip() for n in re.split(r"[\n,]", self.cleaned_data.get("features") or "") if n.strip()]
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise forms.ValidationError(
                "not columns of the dataset: " + ", ".join(repr(n[:80]) for n in unknown[:10]) + "."
            )
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise forms.ValidationError("each column once; repeated: " + ", ".join(repr(n) for n in repeated) + ".")
        inputs = self.inputs
        if names and inputs is not None:
            if inputs.names and names != list(inputs.names):
                raise forms.ValidationError(
                    f"the model declares its inputs, in this order: {', '.join(inputs.names)}. List exactly those "
                    "(or leave the field empty to use them)."
                )
            if inputs.count is not None and len(names) != inputs.count:
                raise forms.ValidationError(f"the model reads {inputs.count} inputs; {len(names)} columns are listed.")
        return names

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        decided = data.get("prediction") or data.get("score")
        inputs = self.inputs
        if inputs is not None and inputs.names and not decided and not data.get("features"):
            absent = [name for name in inputs.names if name not in self.columns]
            if absent:
                self.add_error(
                    "features",
                    f"{inputs.said()} The dataset has no column {', '.join(repr(n) for n in absent[:10])}: choose a "
                    "dataset with the model's inputs, or a prediction or score column.",
                )
        if self.features_needed and not decided and not data.get("features") and "features" not in self.errors:
            assert self.inputs is not None  # features_needed says so
            self.add_error(
                "features",
                f"{self.inputs.said()} The decisions come from the model (no prediction or score column is "
                "chosen), so list the dataset columns it reads, in its input order.",
            )
        return data

    def column_roles(self) -> dict[str, Any]:
        """The roles in the API's shape (``column_roles`` of POST /api/v1/audits/)."""
        data = self.cleaned_data
        return {
            "label": data["label"],
            "favourable": data["favourable"],
            "protected": list(data["protected"]),
            "prediction": data["prediction"] or "",
            "score": data["score"] or "",
            "threshold": data["threshold"],
            "features": list(data["features"]),
        }
