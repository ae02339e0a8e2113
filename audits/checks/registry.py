"""The registry of checks: each check declares itself once, and everything that runs or shows checks reads this.

A :class:`CheckSpec` says what a check is called (its policy name and its title), which class runs it, which policy
settings it reads (a JSON Schema object), how the portal shows it (a template and charts) and how the signed PDF
report shows it (a section and charts). The engine (``audits.engine.check_classes``), the policy schema
(``audits.policies.schema``), the portal (``audits.portal``) and the report (``audits.reports``) read the registry
instead of keeping lists of their own, so adding a check is one :func:`register` call beside the check.

Pure: no Django, and nothing heavy at import. The class and the portal and report functions are named by reference,
``"package.module:attribute"``, and imported only when asked for (:func:`resolve`): the policy validator and the
portal learn a check's name, title and template without loading shap or adversarial-robustness-toolbox, and a
reference may point at a portal or report module that this pure package must not import. A callable may be given
instead of a reference (a check defined in a test, say).

The built-in checks register in ``audits/checks/__init__.py``, in the order the report draws their charts.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: A ``"package.module:attribute"`` reference, imported when first used, or the object itself.
Ref = str | Callable[..., Any]

#: The portal template of a check that names none: every number of its details, as stored.
GENERIC_TEMPLATE = "audits/checks/generic.html"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class CheckSpec:
    """One check as every surface knows it.

    :param name: the policy name (``checks.<name>`` in a policy, the key of its results); lowercase and underscores.
    :param title: the title the report gives its section (``"Disparate impact"``).
    :param check: the class that runs it (a subclass of ``audits.checks.base.Check`` whose ``name`` is ``name``),
        as a reference imported when an audit runs, or the class.
    :param settings: the JSON Schema of its policy settings (``audits.checks.settings.settings_schema``).
    :param template: the portal template showing its details (given ``d``, the details).
    :param portal_charts: ``charts(details) -> list[str]``, SVG charts for the run page when the report draws none.
    :param report_charts: ``charts(details) -> list[audits.reports.charts.PlannedChart]``, the charts the PDF and
        the run page show (not drawn yet); the check's details are ``results["checks"][name]``.
    :param report_section: ``section(builder, details)``, the tables of its PDF section; without one the report
        lists the details' plain fields.
    :param why_it_matters: one or two sentences for the executive summary when the check fails or lacks evidence.
    """

    name: str
    title: str
    check: Ref
    settings: Mapping[str, Any]
    template: str = GENERIC_TEMPLATE
    portal_charts: Ref | None = None
    report_charts: Ref | None = None
    report_section: Ref | None = None
    why_it_matters: str = ""

    def load(self) -> Any:
        """The check's class (imports its module: heavy libraries load here, when an audit runs)."""
        cls = resolve(self.check)
        if getattr(cls, "name", None) != self.name:
            raise ValueError(f"the check class {cls!r} is named {getattr(cls, 'name', None)!r}, not {self.name!r}")
        return cls

    def get(self, attribute: str) -> Any:
        """``portal_charts``, ``report_charts`` or ``report_section`` imported (None when the check has none)."""
        ref = getattr(self, attribute)
        return None if ref is None else resolve(ref)


def resolve(ref: Ref) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported now), or ``ref`` itself."""
    if not isinstance(ref, str):
        return ref
    module, _, attribute = ref.partition(":")
    if not module or not attribute:
        raise ValueError(f"a reference is 'package.module:attribute', got {ref!r}")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


_SPECS: dict[str, CheckSpec] = {}
_generation = 0


def register(spec: CheckSpec) -> CheckSpec:
    """Add a check; ValueError when its name is taken or not a policy name."""
    global _generation  # noqa: PLW0603 - the registry is module state on purpose, like the trail's event registry
    if not _NAME.match(spec.name):
        raise ValueError(f"a check's name is lowercase letters, digits and underscores, got {spec.name!r}")
    if spec.name in _SPECS:
        raise ValueError(f"a check named {spec.name!r} is already registered")
    if not isinstance(spec.settings, Mapping) or spec.settings.get("type") != "object":
        raise ValueError(f"the settings of check {spec.name!r} must be a JSON Schema object (see settings_schema)")
    _SPECS[spec.name] = spec
    _generation += 1
    return spec


def unregister(name: str) -> None:
    """Remove a check (a test's own check, after the test); KeyError when there is none by that name."""
    global _generation  # noqa: PLW0603 - see register
    del _SPECS[name]
    _generation += 1


def specs() -> tuple[CheckSpec, ...]:
    """Every registered check, in registration order."""
    return tuple(_SPECS.values())


def names() -> tuple[str, ...]:
    """Every registered check's policy name, in registration order."""
    return tuple(_SPECS)


def spec(name: str) -> CheckSpec:
    """The check named ``name``; KeyError naming the registered checks when there is none."""
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"no check named {name!r}; registered: {', '.join(_SPECS)}") from None


def find(name: str) -> CheckSpec | None:
    """The check named ``name``, or None (results of a check this version no longer has)."""
    return _SPECS.get(name)


def generation() -> int:
    """A number that changes whenever a check is registered or removed (for caches built from the registry)."""
    return _generation
