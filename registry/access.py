"""Access functions of the registry app: one chokepoint per protected thing (see governance.access.scoping)."""
