"""The approval gate: decisions for pipelines, the signed tokens that carry a pass, and the gate's client."""
