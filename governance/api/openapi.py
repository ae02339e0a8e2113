"""The OpenAPI reference (``/api/schema/``, ``/api/docs/``): drf-spectacular, plus what a caller needs to drive the API.

``AssaySchema`` (DRF's ``DEFAULT_SCHEMA_CLASS``) gives every operation what the views alone do not say:

- a **tag**, the API area of its path (``openapi_reference.AREAS``), unless the view declares one;
- a **summary** in words: the view's ``@extend_schema(summary=...)``, else ``openapi_reference.OPERATIONS``, else the
  first line of the method's own docstring;
- the **error responses** it can give, each with the API's one error body (``ErrorSerializer``, the shape of
  ``governance.web.api.errors.error_body``), derived from the view: 401 when it needs a credential, 403 with the scope
  its method needs, 404 for a path naming objects (or a page past the last), 400/413/415/422 when it reads a body,
  422 for a page size out of bounds, 429 when it is throttled; plus the conflicts and other refusals that
  ``OPERATIONS`` lists for it;
- **examples** of the main flows' request bodies (``openapi_reference.EXAMPLES``).

Bearer-token authentication is documented by ``governance.api.schema.BearerTokenScheme``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from governance.access.permissions import ScopedPermission, required_scope
from governance.api.openapi_reference import EXAMPLES, OPERATIONS, RESPONSE_EXAMPLES, TAGS, area_of


class ErrorDetailSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(help_text="Stable, for programs: `not_found`, `validation_failed`, … (docs/api.md).")
    message = serializers.CharField(help_text="One line for a person, naming the problem.")
    details = serializers.JSONField(
        help_text="Per-field messages (`{field: [message]}`), or what the code adds (`retry_after_seconds`, "
        "`known`); `{}` when there is nothing more."
    )


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The API's one error body, whatever the status: ``{"error": {"code", "message", "details"}}``."""

    error = ErrorDetailSerializer()


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# 4xx statuses whose body is not the error body: the gate's 412 is its decision, the same body as its 200.
NOT_ERRORS = frozenset({412})


class AssaySchema(AutoSchema):
    """drf-spectacular's AutoSchema with tags, summaries, error responses and examples (see the module docstring)."""

    def get_tags(self) -> list[str]:
        area = area_of(self.path)
        return [area] if area else []

    def get_summary(self) -> str | None:
        known = OPERATIONS.get(self._key())
        if known is not None:
            return known.summary
        handler = type(self.view).__dict__.get(self.method.lower())  # the view's own method, not DRF's
        doc = (getattr(handler, "__doc__", None) or "").strip()
        return doc.splitlines()[0].rstrip(".") if doc else None

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        """drf-spectacular gives a blank-allowed pattern field (``RegexField(allow_blank=True)``) ``oneOf`` [the
        pattern, ""] but leaves its default ("") in the pattern's branch, which that branch refuses: the default
        belongs to the field, beside ``oneOf``."""
        super()._insert_field_validators(field, schema)
        branches = schema.get("oneOf") or [{}]
        if "default" in branches[0]:
            schema["default"] = branches[0].pop("default")

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = {"application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}}
        responses = operation["responses"]
        errors = self._errors(operation)
        # A status the view declares itself (``409: OpenApiResponse(description=...)``) keeps its description.
        for code, response in responses.items():
            if code.startswith("4") and int(code) not in NOT_ERRORS:
                errors[int(code)] = response.get("description") or errors.get(int(code), "")
        for status, description in sorted(errors.items()):
            code = str(status)
            responses[code] = {"description": description, "content": error}
            if status == 429:
                responses[code]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
                }
        self._add_examples(operation)
        return operation

    def _key(self) -> str:
        return f"{self.method} {self.path}"

    def _errors(self, operation: dict[str, Any]) -> dict[int, str]:
        """The error statuses this operation can answer, each with when, derived from its view."""
        view = self.view
        errors: dict[int, str] = {}
        permissions = list(getattr(view, "permission_classes", []))
        if any(not issubclass(permission, AllowAny) for permission in permissions):
            errors[401] = "No token, or an invalid, expired or revoked one (`not_authenticated`)."
        if any(issubclass(permission, ScopedPermission) for permission in permissions):
            scope = required_scope(view, self.method)
            errors[403] = (
                f"Your role or read-only token lacks the `{scope}` scope (`permission_denied`)"
                if scope
                else "This method is mapped to no scope, so it is refused for everyone (`permission_denied`)"
            ) + (
                "; or the action refuses your role or team (`role_refused`, `not_in_team`). Recorded in the trail."
                if self.method not in SAFE_METHODS
                else ". Recorded in the trail."
            )
        parameters = operation.get("parameters", [])
        in_path = [p["name"] for p in parameters if p["in"] == "path"]
        paginated = any(p["in"] == "query" and p["name"] == "page" for p in parameters)
        if in_path:
            errors[404] = f"No such {', '.join(f'`{name}`' for name in in_path)}, or not yours to see (`not_found`)" + (
                "; or a page past the last." if paginated else "."
            )
        elif paginated:
            errors[404] = "A page past the last, or an empty `page` (`not_found`)."
        if paginated:
            largest = getattr(getattr(view, "pagination_class", None), "max_page_size", None)
            errors[422] = f"`page_size` is not an integer from 1 to {largest} (`validation_failed`)."
        if self.method in BODY_METHODS and "requestBody" in operation:
            errors.update(self._body_errors(operation))
        if view.get_throttles():
            errors[429] = "Too many requests (`throttled`): `details.retry_after_seconds` says when to retry."
        known = OPERATIONS.get(self._key())
        for status, text in (known.errors if known else {}).items():
            errors[status] = f"{errors[status]} Also: {text}." if status in errors else f"{text}."
        return errors

    def _body_errors(self, operation: dict[str, Any]) -> dict[int, str]:
        media_types = ", ".join(f"`{media}`" for media in operation["requestBody"].get("content", {}))
        limit = getattr(self.view, "max_body_setting", "")
        return {
            400: "The body is not valid JSON (`malformed_request`), or cannot be read at all (`bad_request`).",
            413: "The body is above `API_MAX_BODY_BYTES` (`payload_too_large`)"
            + (f", or the upload above `{limit}` or the limits on what it unpacks (`too_large`)." if limit else "."),
            415: f"The body is not one of {media_types} (`unsupported_media_type`).",
            422: "Well-formed, but the content is wrong: unknown fields, wrong types or values (`validation_failed`, "
            "with per-field `details`), or an action's refusal naming why (`refused`, `reason_required`, ...).",
        }

    def _add_examples(self, operation: dict[str, Any]) -> None:
        content = operation.get("requestBody", {}).get("content", {})
        for media_type, examples in EXAMPLES.get(self._key(), {}).items():
            if media_type in content:
                content[media_type]["examples"] = _examples(examples)
        for status, examples in RESPONSE_EXAMPLES.get(self._key(), {}).items():
            answer = operation["responses"].get(status, {}).get("content", {}).get("application/json")
            if answer is not None:
                answer["examples"] = _examples(examples)


def _examples(examples: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    return {name: {"summary": summary, "value": value} for name, (summary, value) in examples.items()}


def declare_tags(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the reference's areas, in order, with their descriptions."""
    result["tags"] = [{"name": area.name, "description": area.description} for area in TAGS]
    return result
