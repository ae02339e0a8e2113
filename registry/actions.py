"""Actions of the registry app: each owns its transaction and records its trail event inside it."""
