"""Forms of the registry's portal pages: they parse and bound input; the actions decide."""

from __future__ import annotations

import json
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


class ApproveForm(ReasonForm):
    """An approval; over evidence that is not clean, with the acknowledgement (its value: the fingerprint of the
    evidence shown, so an acknowledgement of other evidence does not count) and a reason."""

    acknowledge = forms.CharField(required=False, max_length=64)


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


class RiskAnswersForm(forms.Form):
    """The risk questionnaire in the Act's order (registry.risk.QUESTIONS): the answers the API's ``risk_answers``
    takes, one field per question, each labelled with its article and explained in the Act's words."""

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

    def answers(self) -> dict[str, Any]:
        """The questionnaire's answers from a valid form (the form's other fields are not answers)."""
        return {k: v for k, v in self.cleaned_data.items() if k in risk.QUESTIONS}


class RiskQuestionnaireForm(RiskAnswersForm):
    """The questionnaire, and the reason for changing a classification (officers, on the model's risk page)."""

    reason = forms.CharField(
        label="Reason for the change", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), strip=True
    )


class ModelRegisterForm(RiskAnswersForm):
    """A new model: what the API's ``POST /api/v1/models/`` takes (name, team, purpose, uses, KPIs, and the risk
    questionnaire), with the API's limits. The team is chosen among the user's own (``teams``: slug -> label)."""

    name = forms.SlugField(
        label="Model name",
        max_length=100,
        help_text="Lower-case letters, digits and hyphens; it becomes the model's address and cannot change.",
    )
    team = forms.ChoiceField(label="Team", error_messages={"invalid_choice": "There is no such team among yours."})
    purpose = forms.CharField(
        label="Intended purpose",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the system is for, as the Act's Art. 3(12) means it: the use the provider intends, in its "
        "context and conditions of use.",
    )
    intended_use = forms.CharField(
        label="Intended use", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    out_of_scope_uses = forms.CharField(
        label="Out-of-scope uses", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    business_kpis = forms.CharField(
        label="Business KPIs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line; at most 50, each up to 500 characters.",
        # 50 lines of 500 characters, their line breaks and a little slack: anything longer is refused unread.
        max_length=50 * 502,
    )
    field_order = ["name", "team", "purpose", "intended_use", "out_of_scope_uses", "business_kpis"]

    def __init__(self, *args: Any, teams: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = teams  # type: ignore[attr-defined]
        if len(teams) == 1:
            self.fields["team"].initial = teams[0][0]

    def clean_business_kpis(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["business_kpis"].splitlines() if line.strip()]
        if len(lines) > 50:
            raise forms.ValidationError(f"At most 50 KPIs, one per line; there are {len(lines)}.")
        long = [i for i, line in enumerate(lines, start=1) if len(line) > 500]
        if long:
            raise forms.ValidationError(f"Line {long[0]} has more than 500 characters.")
        return lines

    def registration(self) -> dict[str, Any]:
        """The action's keyword arguments (the team as its slug) from a valid form."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "purpose": data["purpose"],
            "intended_use": data["intended_use"],
            "out_of_scope_uses": data["out_of_scope_uses"],
            "business_kpis": data["business_kpis"],
            "risk_answers": self.answers(),
        }


class VersionRegisterForm(forms.Form):
    """A new version: an ONNX or skops file (or, without one, a predictions-only version with its features), the
    code it came from, the datasets it was trained on and its metrics. The text fields are parsed here into what
    the API's metadata holds; the API's serializer and the registry's action then judge it as for the API."""

    artifact = forms.FileField(
        label="Model file (ONNX or skops)",
        required=False,
        help_text="An .onnx file (skl2onnx.to_onnx) or a .skops file (skops.io.dump). Pickle and joblib files are "
        "refused: loading one runs whatever code it holds. Leave empty for a model that lives elsewhere and "
        "sends its predictions.",
    )
    signature = forms.FileField(
        label="Model signature (optional)",
        required=False,
        help_text="The model file's OpenSSF model signature (model_signing sign ... --signature model.sig), made "
        "with a key or certificate this server trusts; verified before the file is registered.",
    )
    input_features = forms.CharField(
        label="Input features (predictions-only versions)",
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, as name or name:type (for example income:float), in the model's input order. A "
        "model file brings its own.",
    )
    code_repository = forms.CharField(label="Code repository", max_length=500, required=False)
    code_commit = forms.CharField(
        label="Code commit",
        required=False,
        max_length=64,
        help_text="The commit's hash: 7 to 64 hexadecimal characters.",
    )
    training_datasets = forms.CharField(
        label="Training datasets",
        required=False,
        max_length=100 * 200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line as dataset/version, for example applications/1.",
    )
    metrics = forms.CharField(
        label="Metrics (JSON object)",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='For example {"auc": 0.81}.',
    )
    hyperparameters = forms.CharField(
        label="Hyperparameters (JSON object)",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    intended_use = forms.CharField(
        label="Model card: intended use", required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_input_features(self) -> list[dict[str, str]] | None:
        lines = [line.strip() for line in self.cleaned_data["input_features"].splitlines() if line.strip()]
        if not lines:
            return None
        features = []
        for number, line in enumerate(lines, start=1):
            name, _, kind = line.partition(":")
            if not name.strip():
                raise forms.ValidationError(f"Line {number} has no feature name.")
            features.append({"name": name.strip(), **({"type": kind.strip()} if kind.strip() else {})})
        return features

    def clean_training_datasets(self) -> list[dict[str, Any]]:
        references = []
        for number, line in enumerate(self.cleaned_data["training_datasets"].splitlines(), start=1):
            if not line.strip():
                continue
            name, slash, version = line.strip().rpartition("/")
            if not slash or not name or not version.isdigit():
                raise forms.ValidationError(f"Line {number} ({line.strip()[:80]!r}) is not dataset/version.")
            references.append({"dataset": name, "version": int(version)})
        return references

    def _json_object(self, key: str) -> dict[str, Any]:
        raw = self.cleaned_data[key].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
        except RecursionError:
            raise forms.ValidationError("The JSON is nested too deeply.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError(f"Give a JSON object ({{...}}), not a {type(value).__name__}.")
        return value

    def clean_metrics(self) -> dict[str, Any]:
        return self._json_object("metrics")

    def clean_hyperparameters(self) -> dict[str, Any]:
        return self._json_object("hyperparameters")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("artifact") and not data.get("input_features") and not self.errors:
            # As the API refuses a multipart request with neither the file nor the metadata: an empty form (or a
            # body that was no form at all) registers nothing.
            raise forms.ValidationError(
                "Choose the model file; for a model that lives elsewhere, list its input features instead."
            )
        return data

    def metadata(self) -> dict[str, Any]:
        """What the API's ``metadata`` JSON would hold, from a valid form (absent what was left empty)."""
        data = self.cleaned_data
        metadata: dict[str, Any] = {
            "metrics": data["metrics"],
            "hyperparameters": data["hyperparameters"],
            "code_repository": data["code_repository"].strip(),
            "code_commit": data["code_commit"].strip(),
            "training_datasets": data["training_datasets"],
        }
        if data["intended_use"]:
            metadata["model_card"] = {"intended_use": data["intended_use"]}
        if data["input_features"] is not None:
            metadata["input_schema"] = data["input_features"]
        return metadata


# The API metadata's field -> this form's field, so the serializer's problems are shown under the form's labels.
VERSION_METADATA_FIELDS = {
    "metrics": "metrics",
    "hyperparameters": "hyperparameters",
    "code_repository": "code_repository",
    "code_commit": "code_commit",
    "training_datasets": "training_datasets",
    "model_card": "intended_use",
    "input_schema": "input_features",
}
