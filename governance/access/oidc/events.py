"""Trail event types of single sign-on. Role and team changes a sign-in brings are ``user.created`` and
``user.role_changed``, as when an administrator sets them; this adds the sign-in itself."""

from governance.trail.events import register

USER_SIGNED_IN = register(
    "user.signed_in",
    "A person signed in through the organisation's identity provider (the role and teams it gave are recorded "
    "by user.created or user.role_changed when they changed).",
    fields=("method", "role", "teams"),
)
