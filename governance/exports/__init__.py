"""Regulator evidence bundles (exports) and regulator access (shares).

An officer exports a model's evidence as one deterministic ZIP with a signed manifest and an offline verifier
(``bundle.py`` builds it, ``collect.py`` gathers what goes in), and shares a model or an export with a regulator
account until an expiry (``actions.py``). What a regulator may see is decided in one place,
``governance.access.scoping``, from the active shares.
"""
