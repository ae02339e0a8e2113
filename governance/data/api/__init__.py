"""The data-governance API (datasets, lineage, consent, subjects): serializers, views and routes."""
