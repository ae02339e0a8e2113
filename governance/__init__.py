"""Assay's project package and its governance domain (identity and access, the trail)."""

from governance.celery import app as celery_app

__all__ = ["celery_app"]
