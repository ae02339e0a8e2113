"""Audit policies: versioned YAML documents naming the checks to run and, for every threshold, its basis.

Pure: text in, plain values out. No Django, no database; the policy store (models and actions) keeps the texts,
numbers the versions and records every change as a trail event.

A policy looks like this (the built-ins in ``builtin/`` are complete examples)::

    name: four-fifths
    title: Four-fifths rule
    description: ...
    confidence_level: 0.95
    min_group_size: 30
    checks:
      disparate_impact:
        required: true            # cannot run -> the audit is insufficient_evidence, not skipped
        impact_ratio_min:
          value: 0.8
          operator: ">="          # the pass condition: the measured ratio is at least 0.8 (exactly 4/5 passes)
          basis:
            text: A selection rate ... less than four-fifths ... evidence of adverse impact ...
            citation: 29 CFR 1607.4(D)

``load_policy`` refuses anything that does not validate, naming the line and field at fault.

``resolve(name, version=None)`` finds a stored version (``audits.policies.store``, the one module here that reads the
database; loaded on first use, so importing this package needs no database).
"""

from typing import TYPE_CHECKING, Any

from audits.policies import schema as _schema
from audits.policies.errors import PolicyError
from audits.policies.loader import Policy, builtin_policies, canonical_lines, diff_policies, load_policy

if TYPE_CHECKING:
    from audits.policies.schema import CHECK_NAMES, POLICY_SCHEMA
    from audits.policies.store import PolicyNotFound, resolve

__all__ = [
    "CHECK_NAMES",
    "POLICY_SCHEMA",
    "Policy",
    "PolicyError",
    "PolicyNotFound",
    "builtin_policies",
    "canonical_lines",
    "diff_policies",
    "load_policy",
    "resolve",
]


def __getattr__(name: str) -> Any:
    if name in ("resolve", "PolicyNotFound"):
        from audits.policies import store  # noqa: PLC0415 - Django models: the package imports without Django

        return getattr(store, name)
    if name in ("CHECK_NAMES", "POLICY_SCHEMA"):
        return getattr(_schema, name)  # read from the registry of checks each time (audits.checks.registry)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
