"""Obligation catalogues: versioned YAML documents of a framework's obligations (pure: no Django, no database).

The package re-exports its public API: ``load_catalogue``, ``builtin_catalogues``, ``Catalogue``, ``Obligation``,
``Evidence`` and ``CatalogueError`` (from ``loader``), and the JSON Schema ``CATALOGUE_SCHEMA`` (from ``schema``).
"""

from obligations.catalogues.loader import (
    Catalogue,
    CatalogueError,
    Evidence,
    Obligation,
    builtin_catalogues,
    load_catalogue,
)
from obligations.catalogues.schema import CATALOGUE_SCHEMA

__all__ = [
    "CATALOGUE_SCHEMA",
    "Catalogue",
    "CatalogueError",
    "Evidence",
    "Obligation",
    "builtin_catalogues",
    "load_catalogue",
]
