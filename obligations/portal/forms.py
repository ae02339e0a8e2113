"""The officer's portal forms: obligation decisions, serious incidents, the statement of applicability (the actions
check everything again)."""

from __future__ import annotations

from django import forms

from obligations.actions import MAX_REASON_CHARS
from obligations.models import DecisionKind, Implementation, IncidentKind, StepKind


class DecisionForm(forms.Form):
    """An officer's decision on one obligation of a version: attested or not applicable."""

    catalogue = forms.SlugField(max_length=64)
    obligation = forms.CharField(max_length=64)
    decision = forms.ChoiceField(choices=DecisionKind.choices)
    reason = forms.CharField(max_length=MAX_REASON_CHARS, widget=forms.Textarea(attrs={"rows": 2}))
    document_name = forms.CharField(max_length=255, required=False)
    document_sha256 = forms.RegexField(r"^[0-9a-fA-F]{64}$", required=False, label="Document SHA-256")


class IncidentForm(forms.Form):
    """A serious incident as an officer records it (Art. 73); the time is read in the server's time zone (UTC)."""

    kind = forms.ChoiceField(choices=IncidentKind.choices)
    description = forms.CharField(max_length=MAX_REASON_CHARS, widget=forms.Textarea(attrs={"rows": 3}))
    aware_at = forms.DateTimeField(
        label="Aware since (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When the organisation became aware of it: the reporting clock starts here.",
    )
    version = forms.IntegerField(min_value=1, max_value=10**9, required=False, help_text="Leave empty for the model.")


class StepForm(forms.Form):
    """A step taken about a serious incident (Art. 73(6): investigation, risk assessment, corrective action)."""

    kind = forms.ChoiceField(choices=StepKind.choices, label="Step")
    note = forms.CharField(max_length=MAX_REASON_CHARS, label="What was done", widget=forms.Textarea(attrs={"rows": 2}))


class SoaEntryForm(forms.Form):
    """An officer's decision on one ISO/IEC 42001 Annex A control (the action checks everything again)."""

    control = forms.CharField(max_length=16)
    applicable = forms.TypedChoiceField(
        choices=[("yes", "Applicable"), ("no", "Excluded")], coerce=lambda value: value == "yes"
    )
    justification = forms.CharField(max_length=MAX_REASON_CHARS, widget=forms.Textarea(attrs={"rows": 2}))
    implementation = forms.ChoiceField(
        choices=[("", "(none: excluded)"), *Implementation.choices], required=False, label="Implementation status"
    )
    document_name = forms.CharField(max_length=255, required=False, label="Evidence: document name")
    document_sha256 = forms.RegexField(r"^[0-9a-fA-F]{64}$", required=False, label="Evidence: document SHA-256")
