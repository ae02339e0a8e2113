"""Admin registrations of the audits app."""
