"""The mirror of a real Business Central (api mode): our BC tables as a read model of its API v2.0
and published pages, owned by one sync process (``bc-gateway serve`` or ``bc-gateway mirror``).

- :mod:`~orders.bc_link.mirror.entities`: what is read and how a BC row becomes ours (pure);
- :mod:`~orders.bc_link.mirror.load`: the initial load, page by page, resumable;
- :mod:`~orders.bc_link.mirror.ledger`: the item ledger, loaded and polled by entry number;
- :mod:`~orders.bc_link.mirror.deltas`: master data by ``lastModifiedDateTime``;
- :mod:`~orders.bc_link.mirror.notifications`: webhook notifications in, refreshes out;
- :mod:`~orders.bc_link.mirror.subscriptions`: webhook subscriptions made, renewed, re-made;
- :mod:`~orders.bc_link.mirror.reconcile`: the full comparison and its drift report;
- :mod:`~orders.bc_link.mirror.runner`: :class:`Mirror`, the loop;
- :mod:`~orders.bc_link.mirror.status`: what it holds and what cannot be answered without it.

Storage: schemas/mirror_state.py (its bookkeeping), schemas/mirror_store.py (master data),
schemas/mirror_ledger.py (entries and running totals). How it works: docs/bc-link.md, "The mirror".
"""

from orders.bc_link.mirror.context import LogProgress, MirrorOptions, Progress, ProgressFactory
from orders.bc_link.mirror.notifications import Accepted, NotificationError, accept
from orders.bc_link.mirror.runner import CycleResult, Mirror
from orders.bc_link.mirror.status import MirrorStatus, Refusal, mirror_ready, mirror_status, refusal

__all__ = [
    "Accepted",
    "CycleResult",
    "LogProgress",
    "Mirror",
    "MirrorOptions",
    "MirrorStatus",
    "NotificationError",
    "Progress",
    "ProgressFactory",
    "Refusal",
    "accept",
    "mirror_ready",
    "mirror_status",
    "refusal",
]
