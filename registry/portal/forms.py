"""Forms of the registry's portal pages: they parse and bound input; the actions decide."""

from __future__ import annotations

from typing import Any

from django import forms

from registry.models import MODEL_CARD_SECTIONS, Environment, FindingResolution

SECTION_TITLES = {name: name.replace("_", " ").capitalize() for name in MODEL_CARD_SECTIONS}


class ModelCardForm(forms.Form):
    """Every section of a model card (Mitchell et al., 2019), free text, at most 20,000 characters each."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in MODEL_CARD_SECTIONS:
            self.fields[name] = forms.CharField(
                label=SECTION_TITLES[name], required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 3})
            )


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason for rejecting", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), strip=True
    )


class DeployForm(forms.Form):
    environment = forms.ChoiceField(label="Environment", choices=Environment.choices)
    reason = forms.CharField(label="Reason", required=False, max_length=2000)


class RetireForm(forms.Form):
    environment = forms.ChoiceField(
        label="Environment", choices=[("", "every environment"), *Environment.choices], required=False
    )
    reason = forms.CharField(label="Reason for retiring", max_length=2000)


class ResolveFindingForm(forms.Form):
    resolution = forms.ChoiceField(label="Resolution", choices=FindingResolution.choices)
    reason = forms.CharField(label="Reason", max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, allow_retire: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not allow_retire:  # offered only to whom the action would let retire the version (see the page's note)
            field = self.fields["resolution"]
            field.choices = [c for c in FindingResolution.choices if c[0] != FindingResolution.RETIRE]  # type: ignore[attr-defined]


class AsOfForm(forms.Form):
    as_of = forms.DateField(
        label="Date (UTC)", input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_as_of(self) -> object:
        value = self.cleaned_data["as_of"]
        if not 1900 <= value.year <= 9998:
            raise forms.ValidationError("Choose a date between the years 1900 and 9998.")
        return value


class BatchUploadForm(forms.Form):
    """A production batch: a CSV or Parquet file with the configured columns (the action validates it)."""

    file = forms.FileField(
        label="Batch file (CSV or Parquet)",
        help_text="The monitored features, the decision or score column, the protected attributes (and labels, if "
        "configured), one row per decision.",
    )
    delimiter = forms.ChoiceField(
        label="CSV delimiter",
        choices=[(",", "comma"), (";", "semicolon"), ("\t", "tab")],
        initial=",",
        required=False,
    )
