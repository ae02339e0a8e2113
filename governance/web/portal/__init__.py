"""The portal plumbing shared by every app: access decorator, pagination, SVG charts."""
