"""Arrangements of the obligations tests: the registry's models and lifecycle walks, the data app's datasets, and
the audit engine's evaluation data, all through the apps' own actions (see the conftests imported here)."""

from __future__ import annotations

from tests.audits.conftest import builtin_policies_stored  # noqa: F401 - a fixture
from tests.data.conftest import media_root  # noqa: F401 - a fixture
from tests.registry.conftest import make_version, walk  # noqa: F401 - fixtures
