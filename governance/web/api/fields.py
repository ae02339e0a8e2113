"""Field and serializer helpers every app's API shares: strict serializers, aware times, the caller's team."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from governance.access.models import Team, User


def parse_aware_datetime(raw: str, *, field: str) -> dt.datetime:
    """An ISO 8601 time with a timezone from a query parameter, or a 422 naming ``field``."""
    try:
        moment = parse_datetime(raw)
    except ValueError:  # well-formed but impossible, e.g. 30 February
        moment = None
    if moment is None or moment.tzinfo is None:
        raise serializers.ValidationError({field: ["Use an ISO 8601 time with a timezone, e.g. 2026-01-31T12:00:00Z."]})
    try:
        in_utc = moment.astimezone(dt.UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not 1900 <= in_utc.year <= 9998:
        raise serializers.ValidationError({field: ["The time is out of range (years 1900 to 9998)."]})
    return moment


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate ``data`` (422 with per-field details on failure) and return the clean values."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def callers_team(user: User, slug: str) -> Team:
    """The team named ``slug`` among those ``user`` registers things in (any, for organisation-wide roles). Another
    team's name answers like a missing one (422), so a caller never learns which teams exist."""
    teams = Team.objects.all() if user.is_organisation_wide else Team.objects.filter(pk__in=user.team_ids())
    team = teams.filter(slug=slug).first()
    if team is None:
        raise serializers.ValidationError({"team": ["There is no such team among yours."]})
    return team


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo in a request is an error rather than silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, got {type(data).__name__}."]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["This field is not recognised."] for name in unknown})
        mistyped = {
            name: [problem]
            for name, value in data.items()
            if not self.fields[name].read_only and (problem := json_type_problem(self.fields[name], value))
        }
        try:
            internal = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # DRF's own message wins for a field it refuses ("A valid integer is required.").
            raise serializers.ValidationError({**mistyped, **exc.detail}) from None  # type: ignore[dict-item]
        if mistyped:
            raise serializers.ValidationError(mistyped)
        return internal


_JSON_TYPE_NAMES = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def json_type_problem(field: serializers.Field, value: Any) -> str | None:
    """What is wrong with the JSON type of ``value`` for ``field``, or None.

    DRF coerces: a CharField takes 0 as "0", a BooleanField takes 0 or "yes", an IntegerField takes "12". The
    OpenAPI schema promises a string, a boolean, an integer; a request that breaks the promise is refused (422)
    rather than silently reinterpreted. ``null`` is left to the field's own ``allow_null``.
    """
    if value is None:
        return None
    expected: str | None = None
    if isinstance(field, serializers.BooleanField):
        expected = None if isinstance(value, bool) else "a boolean"
    elif isinstance(field, serializers.IntegerField):
        expected = None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    elif isinstance(field, serializers.FloatField):
        expected = None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    elif isinstance(field, (serializers.CharField, serializers.DateTimeField, serializers.DateField)) or (
        isinstance(field, serializers.ChoiceField) and all(isinstance(key, str) for key in field.choices)
    ):
        expected = None if isinstance(value, str) else "a string"
    elif isinstance(field, serializers.ListField) and isinstance(value, list):
        for index, item in enumerate(value):
            if problem := json_type_problem(field.child, item):
                return f"Item {index}: {problem}"
    elif isinstance(field, serializers.DictField) and isinstance(value, dict):
        for key, item in value.items():
            if problem := json_type_problem(field.child, item):
                return f"{key}: {problem}"
    if expected is None:
        return None
    return f"Expected {expected}, got {_json_type(value)}."
