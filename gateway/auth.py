"""HTTP Basic authentication with web service access keys, roles and lockout.

The lockout counts failures per client address and per user at an address (shared by all gateway
processes through the database), so that nobody can lock Sales out by sending bad keys in its name.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import BasicAuth, web
from cachetools import TTLCache
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.odata.answer_cache import ExpiringMemo, Memo
from gateway.odata.errors import ODataError, service_unavailable, too_many_requests, unauthorized
from schemas.auth_failures import recent_failures, record_failures
from schemas.db import is_unavailable
from schemas.users import User, UserService, name_key

log = logging.getLogger("bcgw.auth")

REALM = "Business Central"
# Failures allowed in LOCKOUT_WINDOW: with one user name from one address; from one address
# across user names; wrong webhook secrets from one address. Settings may change them.
LOCKOUT_FAILURES = 10
ADDRESS_FAILURES = 30
WEBHOOK_FAILURES = 10
LOCKOUT_WINDOW = 300.0  # seconds
_KEY_LIKE = re.compile(r"[A-Za-z0-9+/]{43}=")


def _loggable_name(name: str) -> str:
    """A user name fit for the log: a key pasted as the user name is not written out."""
    if _KEY_LIKE.fullmatch(name) or len(name) > 60:
        return "<redacted: not a user name>"
    return name


def _digest(header: str) -> bytes:
    return hashlib.sha256(header.encode("utf-8", "surrogateescape")).digest()


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


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `failures` in `window` seconds; then refused until the oldest of them is that old."""

    failures: int
    window: float


# Per subject kind: a user at an address, an address across user names (several users may share
# one: an office, a proxy not in BCGW_TRUSTED_PROXIES), and webhook secrets per address.
DEFAULT_LIMITS = {
    "user": Limit(LOCKOUT_FAILURES, LOCKOUT_WINDOW),
    "addr": Limit(ADDRESS_FAILURES, LOCKOUT_WINDOW),
    "hook": Limit(WEBHOOK_FAILURES, LOCKOUT_WINDOW),
}


def wait_for(failures: Sequence[float], limit: Limit, now: float) -> float:
    """Seconds until a subject with these failure times (oldest first) may try again; 0: now."""
    recent = [t for t in failures if t > now - limit.window]
    if len(recent) < limit.failures:
        return 0.0
    return max(0.0, recent[-limit.failures] + limit.window - now)


def user_at(user_name: str, address: str) -> str:
    """The subject of one user name at one address. The name is hashed: what a client sends as a
    user name (a key pasted there, NUL, anything) is stored in the database, and must be neither
    readable nor refused by it."""
    digest = hashlib.sha256(name_key(user_name).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"user:{digest}@{address}"


class Lockout:
    """Failures per subject ('user:NAME@ADDRESS', 'addr:ADDRESS', 'hook:ADDRESS') in a sliding window.

    No subject is a user name alone: a stranger's bad keys lock out the stranger's address, never
    the user's own calls from elsewhere. With an engine, failures are also written to the database
    and read from it, so that every gateway process counts the failures of all (a guesser cannot
    spread guesses over processes); without one (tests of the rules), this process's only.
    """

    def __init__(
        self,
        limits: Mapping[str, Limit] | None = None,
        clock: Callable[[], float] = time.time,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.limits = dict(limits or DEFAULT_LIMITS)
        self.clock = clock
        self.engine = engine
        longest = max(limit.window for limit in self.limits.values())
        self._failures: TTLCache[str, deque[float]] = TTLCache(maxsize=100_000, ttl=longest, timer=self._now)
        # What the database said: subject -> refused until (so a flood costs no query per request).
        self._locked_until: TTLCache[str, float] = TTLCache(maxsize=100_000, ttl=longest, timer=self._now)
        # Until when a failure or a lock known here can still count: before it, nothing to look up
        # (asking the TTLCaches whether they are empty sweeps them on every request).
        self._quiet_from = float("-inf")

    def _now(self) -> float:
        return self.clock()

    def _limit(self, subject: str) -> Limit:
        return self.limits[subject.split(":", 1)[0]]

    def retry_after_here(self, *subjects: str) -> int:
        """Seconds to wait by what this process knows (no I/O); 0 when they may try."""
        now = self.clock()
        if now >= self._quiet_from:
            return 0  # no failure within any window (the common case): nothing to look up
        wait = 0.0
        for subject in subjects:
            wait = max(wait, wait_for(self._failures.get(subject, ()), self._limit(subject), now))
            wait = max(wait, self._locked_until.get(subject, now) - now)
        return int(wait) + 1 if wait > 0 else 0

    async def retry_after(self, *subjects: str) -> int:
        """Seconds to wait, counting every process's failures; raises SQLAlchemyError when the
        database fails (the caller answers 503)."""
        wait = self.retry_after_here(*subjects)
        if wait or self.engine is None:
            return wait
        now = self.clock()
        window = max(self._limit(s).window for s in subjects)
        shared = await recent_failures(self.engine, subjects, now - window)
        longest = 0.0
        for subject, times in shared.items():
            seconds = wait_for(times, self._limit(subject), now)
            if seconds > 0:
                self._locked_until[subject] = now + seconds
                self._quiet_from = max(self._quiet_from, now + seconds)
                longest = max(longest, seconds)
        return int(longest) + 1 if longest > 0 else 0

    async def fail(self, *subjects: str) -> None:
        """Count a failure of each subject (here, and in the database when there is one)."""
        now = self.clock()
        for subject in subjects:
            recent = self._failures.get(subject) or deque()
            recent.append(now)
            while len(recent) > self._limit(subject).failures:
                recent.popleft()
            self._failures[subject] = recent
            self._quiet_from = max(self._quiet_from, now + self._limit(subject).window)
        if self.engine is not None:
            window = max(limit.window for limit in self.limits.values())
            await record_failures(self.engine, subjects, now, now - window)


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
        self._verified: ExpiringMemo[tuple[str, str], tuple[User, dt.datetime | None]] | None = (
            ExpiringMemo(maxsize=10_000, ttl=cache_ttl) if cache_ttl > 0 else None
        )
        self._last_used: dict[int, float] = {}
        self._headers: Memo[bytes, tuple[str, tuple[str, str]]] = Memo(maxsize=10_000)
        self._subjects: Memo[tuple[str, str], str] = Memo(maxsize=10_000)
        self._pending_touch: set[int] = set()

    def forget_verifications(self) -> None:
        """A user or key changed somewhere: verify everything afresh."""
        if self._verified is not None:
            self._verified.clear()

    async def _fail(self, user_name: str, address: str, reason: str, subjects: tuple[str, ...]) -> ODataError:
        try:
            await self.lockout.fail(*subjects)
        except SQLAlchemyError as exc:
            log.error("cannot record a failed sign-in: the database failed (%s)", type(exc).__name__)
            return service_unavailable("The service cannot check credentials now; try again.")
        log.warning(
            "authentication failed: user=%r address=%s reason=%s",
            _loggable_name(user_name),
            address,
            reason,
        )
        return unauthorized(REALM)

    async def authenticate(self, request: web.Request) -> Principal:
        """The request's user, or an error (401, 429, 503).

        Failures count per client address and per user at that address, never per user name
        alone: a valid key from an address without failures is never refused.
        """
        address = request.remote or "unknown"
        header = request.headers.get("Authorization")
        # Credentials verified before: their user name and verification cache key, without decoding
        # and hashing them again (most of the work of a remembered key). By a hash of the header,
        # never the header itself (it carries the key).
        digest = _digest(header) if header is not None else None
        read = self._headers.get(digest) if digest is not None else None
        key: str | None = None
        if read is not None:
            user_name, cache_key = read
        else:
            creds = parse_basic(header)
            if creds is None:
                reason = "no credentials" if "Authorization" not in request.headers else "malformed credentials"
                if reason == "malformed credentials":
                    await self._count("addr:" + address)
                log.info(
                    "authentication required: address=%s reason=%s path=%s",
                    address,
                    reason,
                    request.path,
                )
                raise unauthorized(REALM)
            user_name, key = creds
            cache_key = (name_key(user_name), hashlib.sha256(key.encode()).hexdigest())
        subjects = (self._user_at(user_name, address), "addr:" + address)
        wait = self.lockout.retry_after_here(*subjects)
        if not wait and self._verified is not None:
            cached = self._verified.find(cache_key)
            # A remembered key still expires (or ends its grace) on time.
            if cached is not None and (cached[1] is None or cached[1] > dt.datetime.now(dt.UTC)):
                if read is None and digest is not None:
                    self._headers[digest] = (user_name, cache_key)
                self._note_use(cached[0])
                return Principal(cached[0])
        if key is None:  # remembered credentials whose verification has ended: verify them again
            assert header is not None
            creds = parse_basic(header)
            assert creds is not None  # it was read before
            key = creds[1]
        try:
            wait = wait or await self.lockout.retry_after(*subjects)
        except SQLAlchemyError as exc:
            log.error("cannot check failed sign-ins: the database failed (%s)", type(exc).__name__)
            raise service_unavailable("The service cannot check credentials now; try again.") from None
        if wait:
            log.warning(
                "authentication refused (locked out): user=%r address=%s retry_after=%s",
                _loggable_name(user_name),
                address,
                wait,
            )
            raise too_many_requests(wait, "Too many failed sign-in attempts; try again after the time in Retry-After.")
        try:
            result = await self.users.verify(user_name, key)
        except Exception as exc:
            # asyncpg raises a refused connection as a bare OSError: not a SQLAlchemyError.
            if not (isinstance(exc, SQLAlchemyError) or is_unavailable(exc)):
                raise
            log.error("cannot verify credentials: the database failed (%s)", type(exc).__name__)
            raise service_unavailable("The service cannot check credentials now; try again.") from None
        if result.user is None:
            raise await self._fail(user_name, address, result.reason, subjects)
        if self._verified is not None:
            self._verified.put(cache_key, (result.user, result.valid_until))
            if digest is not None:
                self._headers[digest] = (user_name, cache_key)
        self._note_use(result.user)
        return Principal(result.user)

    def _user_at(self, user_name: str, address: str) -> str:
        found = self._subjects.get((user_name, address))
        if found is None:
            found = self._subjects[(user_name, address)] = user_at(user_name, address)
        return found

    async def _count(self, *subjects: str) -> None:
        try:
            await self.lockout.fail(*subjects)
        except SQLAlchemyError as exc:
            log.error("cannot record a failed sign-in: the database failed (%s)", type(exc).__name__)
            raise service_unavailable("The service cannot check credentials now; try again.") from None

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
