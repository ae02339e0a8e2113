"""Questions about model versions that data governance asks and the registry, a floor above it, answers.

Data governance reaches model versions in three places: a consent withdrawal or an erasure opens a finding on every
model version trained (through lineage) on data that holds the subject; an OpenLineage event may name a model version
as a run's output (``models/<name>/versions/<n>`` in the ``assay`` namespace); a lineage run recorded through the API
names model versions among its inputs and outputs. Findings, models and who may see them belong to the registry,
which imports this floor. So this module defines the questions and the registry registers its answers when the app
starts (``registry.data_hooks``, from ``RegistryConfig.ready``), keeping every import pointing down. Until something
registers, asking is an error (never a silent "no finding" or "no such version").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# (model_version, *, kind=, cause=, title=, details=) -> the finding it opened, or None when one is open already.
OpenModelFinding = Callable[..., Any]
# (user, model name, version number) -> that model version if the user may see its model, else None.
VisibleModelVersion = Callable[[Any, str, int], Any]
# (user, model name, version number, request) -> that model version, else Http404 (the registry's access chokepoint).
AccessModelVersion = Callable[[Any, str, int, Any], Any]

_open_model_finding: OpenModelFinding | None = None
_visible_model_version: VisibleModelVersion | None = None
_access_model_version: AccessModelVersion | None = None


def register(
    *,
    open_model_finding: OpenModelFinding,
    visible_model_version: VisibleModelVersion,
    access_model_version: AccessModelVersion,
) -> None:
    """Install the functions that answer for model versions (called once at start-up, by the registry)."""
    global _open_model_finding, _visible_model_version, _access_model_version  # noqa: PLW0603 - set once at start-up
    _open_model_finding = open_model_finding
    _visible_model_version = visible_model_version
    _access_model_version = access_model_version


def _registered(answer: Any, name: str) -> Any:
    if answer is None:
        raise ImproperlyConfigured(f"nothing answers governance.data.hooks.{name} (the registry's ready registers it)")
    return answer


def open_model_finding(model_version: Any, *, kind: str, cause: str, title: str, details: dict[str, Any]) -> Any:
    """Open a finding on ``model_version`` with this ``cause``, inside the caller's transaction; None (and nothing
    opened) when an open finding with this cause is there already, also when a concurrent request opened it first."""
    answer = _registered(_open_model_finding, "open_model_finding")
    return answer(model_version, kind=kind, cause=cause, title=title, details=details)


def visible_model_version(user: Any, name: str, number: int) -> Any:
    """Version ``number`` of the model ``name`` if ``user`` may see that model, else None."""
    return _registered(_visible_model_version, "visible_model_version")(user, name, number)


def access_model_version(user: Any, name: str, number: int, request: Any = None) -> Any:
    """Version ``number`` of the model ``name`` if ``user`` may see the model, else 404, through the registry's
    access chokepoint (which records a refusal out of scope, and a regulator's access on their share)."""
    return _registered(_access_model_version, "access_model_version")(user, name, number, request)
