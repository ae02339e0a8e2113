"""Regulator shares are access grants: the access layer asks, the exports package (a floor above) answers.

The access layer decides what a regulator may see, but the shares that grant it are made and recorded by the
exports package, which imports the access layer. So the access layer defines these two hooks and the exports
package registers into them when the app starts (``governance.apps``), keeping every import pointing down. Until
something registers, asking which models are shared is an error (never a silent grant) and no access is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SharedModelIds = Callable[[Any], Any]  # regulator -> ids of the models shared with them now (a subquery or a list)
RecordShareAccess = Callable[..., None]  # (user=, obj=, request=, kind=) -> records it on the granting share

_shared_model_ids: SharedModelIds | None = None
_record_share_access: RecordShareAccess | None = None


def register(*, shared_model_ids: SharedModelIds, record_share_access: RecordShareAccess) -> None:
    """Install the functions that answer for shares (called once at start-up)."""
    global _shared_model_ids, _record_share_access  # noqa: PLW0603 - a registry set once at start-up
    _shared_model_ids = shared_model_ids
    _record_share_access = record_share_access


def shared_model_ids(user: Any) -> Any:
    """Ids of the models an active share grants ``user``, as a subquery of ``model_id`` values."""
    if _shared_model_ids is None:
        raise ImproperlyConfigured("no source of regulator shares is registered (governance.apps registers one)")
    return _shared_model_ids(user)


def record_share_access(*, user: Any, obj: Any, request: Any = None, kind: str = "view") -> None:
    """Record a regulator's access on the share that grants it (nothing while no share source is registered)."""
    if _record_share_access is not None:
        _record_share_access(user=user, obj=obj, request=request, kind=kind)
