"""The form that starts an audit: what to audit, on which data, under which policy, and the data's column roles.

Step one picks the model version, the evaluation dataset version and the policy; step two offers the dataset's own
columns for each role. The values are then checked by the API's own serializer (``ColumnRolesSerializer``) and by
``do_start_audit``, so the portal accepts exactly what the API accepts.
"""

from __future__ import annotations

from typing import Any

from django import forms

from governance.web.portal.access import set_choices


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
    policy = forms.ChoiceField(label="Policy")

    def __init__(self, *args: Any, versions: list[str], datasets: list[str], policies: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "model_version", [(v, v) for v in versions])
        set_choices(self, "dataset_version", [(d, d) for d in datasets])
        set_choices(self, "policy", [(p, p) for p in policies])

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
    features = forms.MultipleChoiceField(
        label="Model input features",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The columns the model reads (needed to score an artifact).",
    )
    force = forms.BooleanField(label="Run again even if the same audit exists", required=False)

    def __init__(self, *args: Any, columns: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        named = [(c, c) for c in columns]
        set_choices(self, "label", named)
        set_choices(self, "protected", named)
        set_choices(self, "features", named)
        set_choices(self, "prediction", [("", "none"), *named])
        set_choices(self, "score", [("", "none"), *named])

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
