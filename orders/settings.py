"""What order processing reads from the gateway's settings, as a protocol.

The settings object is built once, at start-up, by the gateway (gateway/config.py); order
processing names only the values it uses, so it depends on no module of the gateway.
"""

from __future__ import annotations

from typing import Protocol


class ProcessingSettings(Protocol):
    """The settings the worker, the inbox commands and the setup use (all read-only)."""

    @property
    def company(self) -> str: ...

    @property
    def time_zone(self) -> str: ...

    @property
    def reconcile_interval(self) -> int: ...

    @property
    def worker_poll_interval(self) -> float: ...

    @property
    def max_attempts(self) -> int: ...

    @property
    def retry_base_delay(self) -> float: ...

    @property
    def lease_seconds(self) -> int: ...

    @property
    def retention_days(self) -> int: ...

    @property
    def worker_concurrency(self) -> int: ...

    @property
    def sales_timeout(self) -> float: ...

    @property
    def sales_deadline(self) -> float: ...

    @property
    def sales_max_wait(self) -> float: ...

    @property
    def bc_settle_seconds(self) -> float: ...

    @property
    def sync_jobs(self) -> bool: ...

    @property
    def sync_poll_interval(self) -> float: ...

    @property
    def sync_wake_seconds(self) -> float: ...

    def external_base(self) -> str:
        """The gateway's address as Sales reaches it (the public URL, else where it listens)."""
        ...
