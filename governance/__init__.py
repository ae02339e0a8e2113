"""Assay's project package and its governance domain (identity and access, the trail).

The Celery app is not imported here, so importing a framework-free module of this package (the trail's verifier,
the citations catalogue) loads no framework; ``governance.apps`` loads it when Django starts, and
``celery -A governance`` finds ``governance.celery`` by itself.
"""
