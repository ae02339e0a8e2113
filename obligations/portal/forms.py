"""The officer's decision form on the status page (the action checks everything again)."""

from __future__ import annotations

from django import forms

from obligations.actions import MAX_REASON_CHARS
from obligations.models import DecisionKind


class DecisionForm(forms.Form):
    catalogue = forms.SlugField(max_length=64)
    obligation = forms.CharField(max_length=64)
    decision = forms.ChoiceField(choices=DecisionKind.choices)
    reason = forms.CharField(max_length=MAX_REASON_CHARS, widget=forms.Textarea(attrs={"rows": 2}))
    document_name = forms.CharField(max_length=255, required=False)
    document_sha256 = forms.RegexField(r"^[0-9a-fA-F]{64}$", required=False, label="Document SHA-256")
