"""Obligations as code: catalogues of what a framework requires (EU AI Act, NIST AI RMF, NYC LL144, ISO/IEC 42001),
each obligation tied to the evidence in Assay that satisfies it, and a computed status per model version.

A top-floor app (docs/architecture.md): it reads the registry, the audits, the data floor and the trail, and nothing
below imports it. ``catalogues`` is pure (YAML in, plain values out); ``status`` computes; ``actions`` changes state
with its trail events; ``oscal`` exports the status as OSCAL assessment results.
"""
