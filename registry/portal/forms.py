"""Forms of the registry's portal pages: they parse and bound input; the actions decide."""

from __future__ import annotations

from typing import Any

from django import forms

from governance.citations import cite
from registry import risk
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


def _worded(key: str, citation_id: str) -> tuple[str, str]:
    """An option labelled with its provision and the provision's words, so the question reads as the Act does."""
    c = cite(citation_id)
    return key, f"{c.pin}: {c.text}"


def _annex_iii_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for use, citation_id in risk.ANNEX_III_USES.items():
        point = use.split("(")[0]
        heading = cite(risk.ANNEX_III_POINTS[point])
        groups.setdefault(f"{heading.pin}: {heading.title}", []).append(_worded(use, citation_id))
    return list(groups.items())


class RiskQuestionnaireForm(forms.Form):
    """The risk questionnaire in the Act's order (registry.risk.QUESTIONS), and the reason for the change."""

    art_5_practices = forms.MultipleChoiceField(
        label="Art. 5(1): prohibited practices",
        help_text=risk.QUESTIONS["art_5_practices"] + " Points (ba) and (bb): " + cite("eu-ai-act/art-5/1a").text,
        choices=[_worded(k, c) for k, c in risk.PRACTICES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    art_5_1_h_objective = forms.ChoiceField(
        label="Art. 5(1)(h): an objective for which real-time remote biometric identification is allowed",
        help_text=risk.QUESTIONS["art_5_1_h_objective"] + " Each use also needs the conditions of Art. 5(2) and a "
        "prior authorisation under Art. 5(3).",
        choices=[("none", "None: no such use")]
        + [_worded(k, c) for k, c in risk.RBI_OBJECTIVES.items() if k != "none"],
        initial="none",
    )
    annex_i = forms.ChoiceField(
        label="Art. 6(1)(a): Annex I product or safety component",
        help_text=risk.QUESTIONS["annex_i"] + " " + cite("eu-ai-act/art-6/1a").text,
        choices=list(risk.ANNEX_I_ROLES.items()),
        initial="none",
    )
    annex_i_third_party_assessment = forms.BooleanField(
        label="Art. 6(1)(b): that product must undergo a third-party conformity assessment",
        help_text=risk.QUESTIONS["annex_i_third_party_assessment"],
        required=False,
    )
    annex_iii_uses = forms.MultipleChoiceField(
        label="Art. 6(2) and Annex III: listed uses",
        help_text=risk.QUESTIONS["annex_iii_uses"],
        choices=_annex_iii_choices(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    profiles_natural_persons = forms.BooleanField(
        label="It performs profiling of natural persons",
        help_text="Art. 6(3), third subparagraph: an Annex III system that profiles natural persons is always high "
        "risk, whatever the answers below.",
        required=False,
    )
    art_6_3_conditions = forms.MultipleChoiceField(
        label="Art. 6(3)(a)-(d): derogation conditions",
        help_text=risk.QUESTIONS["art_6_3_conditions"] + " A human reviewing each decision is not one of them.",
        choices=[_worded(k, c) for k, c in risk.DEROGATION_CONDITIONS.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    art_6_3_no_significant_risk = forms.BooleanField(
        label="Art. 6(3): no significant risk of harm, including by not materially influencing the outcome of "
        "decision making",
        help_text=risk.QUESTIONS["art_6_3_no_significant_risk"],
        required=False,
    )
    art_6_3_assessment = forms.CharField(
        label="Art. 6(4): the documented assessment",
        help_text=risk.QUESTIONS["art_6_3_assessment"] + ". Without it the derogation is refused. Relying on it, the "
        "provider must register in the EU database (Art. 49(2)).",
        max_length=risk.ASSESSMENT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    transparency = forms.MultipleChoiceField(
        label="Art. 50: transparency situations (they apply to high-risk systems too)",
        help_text=risk.QUESTIONS["transparency"],
        choices=[(k, f"{cite(c).pin}: {words}") for k, (c, words) in risk.TRANSPARENCY.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    reason = forms.CharField(
        label="Reason for the change", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), strip=True
    )

    def answers(self) -> dict[str, Any]:
        """The questionnaire's answers from a valid form (the reason is not an answer)."""
        return {k: v for k, v in self.cleaned_data.items() if k != "reason"}
