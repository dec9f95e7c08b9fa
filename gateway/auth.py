"""HTTP Basic authentication with web service access keys, roles and lockout.

Every route but the health checks (and the webhook, which has its own scheme) needs a user name
and that user's key. Failures are logged with user name, client address and reason, never a key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import BasicAuth, web
from cachetools import TTLCache
from sqlalchemy.exc import SQLAlchemyError

from gateway.odata.errors import ODataError, service_unavailable, too_many_requests, unauthorized
from schemas.db import is_unavailable
from schemas.users import User, UserService, name_key

log = logging.getLogger("bcgw.auth")

REALM = "Business Central"
LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = 300.0  # seconds
_KEY_LIKE = re.compile(r"[A-Za-z0-9+/]{43}=")


def _loggable_name(name: str) -> str:
    """A user name fit for the log: a key pasted as the user name is not written out."""
    if _KEY_LIKE.fullmatch(name) or len(name) > 60:
        return "<redacted: not a user name>"
    return name


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user name, key) from an ``Authorization: Basic`` header, or None when it is not one.

    UTF-8 first (what browsers and most clients send); Latin-1, RFC 7617's old default, otherwise.
    """
    if not header:
        return None
    for encoding in ("utf-8", "latin-1"):
        try:
            creds = BasicAuth.decode(header, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except ValueError:
            return None
        return creds.login, creds.password
    return None


class Lockout:
    """Failures per subject (a user name, a client address) in a sliding window."""

    def __init__(
        self,
        limit: int = LOCKOUT_FAILURES,
        window: float = LOCKOUT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: TTLCache[str, deque[float]] = TTLCache(maxsize=100_000, ttl=window, timer=clock)

    def _recent(self, subject: str) -> deque[float]:
        now = self.clock()
        failures = self._failures.get(subject)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, *subjects: str) -> int:
        """Seconds until the subjects may try again; 0 when they may now."""
        now = self.clock()
        wait = 0.0
        for subject in subjects:
            recent = self._recent(subject)
            if len(recent) >= self.limit:
                wait = max(wait, recent[-self.limit] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def fail(self, *subjects: str) -> None:
        now = self.clock()
        for subject in subjects:
            recent = self._recent(subject)
            recent.append(now)
            while len(recent) > self.limit:
                recent.popleft()
            self._failures[subject] = recent


@dataclass(frozen=True, slots=True)
class Principal:
    user: User

    def has_any(self, roles: frozenset[str]) -> bool:
        return not roles or bool(self.user.roles & roles)


PRINCIPAL = web.RequestKey("principal", Principal)


class Authenticator:
    def __init__(
        self,
        users: UserService,
        cache_ttl: float,
        lockout: Lockout | None = None,
    ) -> None:
        self.users = users
        self.lockout = lockout or Lockout()
        # Successful verifications, briefly: (name key, SHA-256 of the key) -> (user, key valid until).
        self._verified: TTLCache[tuple[str, str], tuple[User, dt.datetime | None]] | None = (
            TTLCache(maxsize=10_000, ttl=cache_ttl) if cache_ttl > 0 else None
        )
        self._last_used: dict[int, float] = {}
        self._pending_touch: set[int] = set()

    def forget_verifications(self) -> None:
        """A user or key changed somewhere: verify everything afresh."""
        if self._verified is not None:
            self._verified.clear()

    def _fail(self, user_name: str, address: str, reason: str, subjects: tuple[str, ...]) -> ODataError:
        self.lockout.fail(*subjects)
        log.warning(
            "authentication failed: user=%r address=%s reason=%s",
            _loggable_name(user_name),
            address,
            reason,
        )
        return unauthorized(REALM)

    async def authenticate(self, request: web.Request, lock_user: bool = True) -> Principal:
        """The request's user, or an error (401, 429, 503). `lock_user=False` counts failures
        per client address only (the webhook: an attacker must not lock Sales out by name)."""
        address = request.remote or "unknown"
        creds = parse_basic(request.headers.get("Authorization"))
        if creds is None:
            reason = "no credentials" if "Authorization" not in request.headers else "malformed credentials"
            if reason == "malformed credentials":
                self.lockout.fail("addr:" + address)
            log.info(
                "authentication required: address=%s reason=%s path=%s",
                address,
                reason,
                request.path,
            )
            raise unauthorized(REALM)
        user_name, key = creds
        subjects = ("user:" + name_key(user_name), "addr:" + address) if lock_user else ("addr:" + address,)
        wait = self.lockout.retry_after(*subjects)
        if wait:
            log.warning(
                "authentication refused (locked out): user=%r address=%s retry_after=%s",
                _loggable_name(user_name),
                address,
                wait,
            )
            raise too_many_requests(wait, "Too many failed sign-in attempts; try again after the time in Retry-After.")
        cache_key = (name_key(user_name), hashlib.sha256(key.encode()).hexdigest())
        if self._verified is not None:
            cached = self._verified.get(cache_key)
            # A remembered key still expires (or ends its grace) on time.
            if cached is not None and (cached[1] is None or cached[1] > dt.datetime.now(dt.UTC)):
                self._note_use(cached[0])
                return Principal(cached[0])
        try:
            result = await self.users.verify(user_name, key)
        except Exception as exc:
            # asyncpg raises a refused connection as a bare OSError: not a SQLAlchemyError.
            if not (isinstance(exc, SQLAlchemyError) or is_unavailable(exc)):
                raise
            log.error("cannot verify credentials: the database failed (%s)", type(exc).__name__)
            raise service_unavailable("The service cannot check credentials now; try again.") from None
        if result.user is None:
            raise self._fail(user_name, address, result.reason, subjects)
        if self._verified is not None:
            self._verified[cache_key] = (result.user, result.valid_until)
        self._note_use(result.user)
        return Principal(result.user)

    def _note_use(self, user: User) -> None:
        now = time.monotonic()
        if now - self._last_used.get(user.id, -1e9) >= 60:
            self._last_used[user.id] = now
            self._pending_touch.add(user.id)

    async def flush_last_used(self) -> None:
        """Write 'last used at' for the users seen since the last flush (at most once a minute each)."""
        ids, self._pending_touch = sorted(self._pending_touch), set()
        if ids:
            await self.users.touch(ids, dt.datetime.now(dt.UTC))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
