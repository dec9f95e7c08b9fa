"""The answer cache: serialised OData answers, dropped precisely when the data under them changes.

Entries carry tags saying which identities (an item number, a Sales product id ...) they depend
on, or none when they may depend on any row ("broad"). A change names the identities it touched;
the cache drops the entries tagged with any of them and every broad entry of that company.
A per-company generation guards the race where an answer computed before a change is stored
after it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from cachetools import TTLCache

Tag = tuple[str, str]
K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict that forgets everything once it holds `maxsize` entries: for what is cheap to work
    out again and asked for on every request, where an LRU's bookkeeping costs more than it saves."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: K, value: V) -> None:
        if len(self) >= self.maxsize and key not in self:
            self.clear()
        super().__setitem__(key, value)


class ExpiringMemo(dict[K, tuple[float, V]]):
    """A Memo whose entries expire `ttl` seconds after they were put: a TTLCache's behaviour for a
    look-up made on every request, without its clock context and its expiry sweep on each access."""

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.maxsize, self.ttl, self.timer = maxsize, ttl, timer

    def put(self, key: K, value: V) -> None:
        if len(self) >= self.maxsize and key not in self:
            self.clear()
        super().__setitem__(key, (self.timer() + self.ttl, value))

    def find(self, key: K) -> V | None:
        found = super().get(key)
        if found is None:
            return None
        if found[0] <= self.timer():
            self.pop(key, None)
            return None
        return found[1]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def response(self) -> web.Response:
        headers = dict(self.headers)
        if self.content_type:
            headers["Content-Type"] = self.content_type
        if self.status == 204:
            return web.Response(status=204, headers=headers)
        return web.Response(status=self.status, body=self.body, headers=headers)


class _IndexedTTLCache(TTLCache[Hashable, Any]):
    """A TTLCache that tells its owner when entries leave, so the tag index stays small."""

    def __init__(self, maxsize: int, ttl: float, on_evict: Any) -> None:
        super().__init__(maxsize=maxsize, ttl=ttl)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Any, Any]:
        key, value = super().popitem()
        self._on_evict(key)
        return key, value

    def expire(self, time: float | None = None) -> Any:
        expired = super().expire(time)
        for key, _value in expired or ():
            self._on_evict(key)
        return expired


class ResponseCache:
    def __init__(self, ttl: float, maxsize: int = 20000) -> None:
        self.ttl = ttl
        self._entries = _IndexedTTLCache(maxsize, ttl, self._forget)
        self._meta: dict[Hashable, tuple[str, frozenset[Tag] | None]] = {}
        self._by_tag: dict[tuple[str, Tag], set[Hashable]] = defaultdict(set)
        self._broad: dict[str, set[Hashable]] = defaultdict(set)
        self._generation: dict[str, int] = defaultdict(int)
        self.hits = 0
        self.misses = 0

    def generation(self, company: str) -> int:
        return self._generation[company]

    def get(self, key: Hashable) -> CachedAnswer | None:
        answer = self._entries.get(key)
        if answer is None:
            self.misses += 1
        else:
            self.hits += 1
        return answer

    def peek(self, key: Hashable) -> CachedAnswer | None:
        """get() that counts a hit but not a miss (the caller looks again by the full way)."""
        answer = self._entries.get(key)
        if answer is not None:
            self.hits += 1
        return answer

    def put(
        self,
        key: Hashable,
        answer: CachedAnswer,
        company: str,
        tags: frozenset[Tag] | None,
        generation: int,
    ) -> None:
        if generation != self._generation[company]:
            return  # the data changed while this answer was being computed
        self._forget(key)
        self._entries[key] = answer
        self._meta[key] = (company, tags)
        if tags is None:
            self._broad[company].add(key)
        else:
            for tag in tags:
                self._by_tag[(company, tag)].add(key)

    def _forget(self, key: Hashable) -> None:
        meta = self._meta.pop(key, None)
        if meta is None:
            return
        company, tags = meta
        if tags is None:
            self._broad[company].discard(key)
        else:
            for tag in tags:
                keys = self._by_tag.get((company, tag))
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by_tag[(company, tag)]

    def _drop(self, keys: Iterable[Hashable]) -> None:
        for key in list(keys):
            self._entries.pop(key, None)
            self._forget(key)

    def invalidate(self, company: str, tags: Iterable[Tag]) -> None:
        """Drop the entries tagged with any of `tags`, and every broad entry of the company."""
        self._generation[company] += 1
        for tag in tags:
            self._drop(self._by_tag.get((company, tag), ()))
        self._drop(self._broad.get(company, ()))

    def invalidate_company(self, company: str) -> None:
        self._generation[company] += 1
        self._drop([k for k, (c, _t) in self._meta.items() if c == company])

    def clear(self) -> None:
        for company in list(self._generation):
            self._generation[company] += 1
        self._entries.clear()
        self._meta.clear()
        self._by_tag.clear()
        self._broad.clear()

    def __len__(self) -> int:
        return len(self._entries)
