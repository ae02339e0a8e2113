"""The obligations API, under /api/v1/: catalogues, a model's obligation scope, a version's status and decisions."""
