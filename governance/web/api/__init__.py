"""The API plumbing shared by every app: errors, parsers, fields, negotiation, pagination."""
