"""Access tests: scopes, tokens, the permission ladder, management commands."""
