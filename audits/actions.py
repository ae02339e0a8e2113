"""Actions of the audits app: each owns its transaction and records its trail event inside it."""
