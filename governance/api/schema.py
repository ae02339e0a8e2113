"""OpenAPI extensions: document Bearer-token authentication (drf-spectacular cannot guess custom classes).

``governance.apps`` imports this module before the models load, so it stays light; the schema class that gives each
operation its tag, summary, error responses and examples is ``governance.api.openapi.AssaySchema``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "governance.access.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An Assay API token: `Authorization: Bearer assay_…` (issue one with "
            "`manage.py issue_token` or POST /api/v1/tokens/).",
        }
