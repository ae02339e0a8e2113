"""Single sign-on with OpenID Connect (issue 24): the portal's people sign in at the organisation's provider.

A Django app of its own (label ``oidc``) because it keeps one table, the link from a provider's subject to an Assay
user. ``config`` is read by the settings; ``backend`` verifies a sign-in and maps its claims to a role and teams;
``views`` starts, finishes and ends sign-ins. docs/sso.md says why mozilla-django-oidc and how to configure it.
"""
