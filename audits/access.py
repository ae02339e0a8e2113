"""Access functions of the audits app: one chokepoint per protected thing (see governance.access.scoping)."""
