"""One module per check; each check is a small class with one job (see base.py)."""
