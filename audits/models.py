"""Models of the audits app (built by its own issue; the skeleton is here so every app looks the same)."""
