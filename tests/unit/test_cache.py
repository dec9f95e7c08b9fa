"""The answer cache: tags, broad entries, per-company generations, expiry and eviction."""

from __future__ import annotations

import time

from gateway.odata.answer_cache import CachedAnswer, ExpiringMemo, Memo, ResponseCache

A = CachedAnswer(200, "application/json", b'{"value":[]}', (("Preference-Applied", "odata.maxpagesize=5"),))
ITEM_1000 = frozenset({("no", "1000"), ("crm", "c-1000")})


def _cache(**kw: float) -> ResponseCache:
    return ResponseCache(ttl=kw.get("ttl", 60.0), maxsize=int(kw.get("maxsize", 100)))


def _put(cache: ResponseCache, key: str, company: str, tags: frozenset[tuple[str, str]] | None) -> None:
    cache.put(key, A, company, tags, cache.generation(company))


def test_hits_and_misses_are_counted() -> None:
    cache = _cache()
    assert cache.get("k") is None
    _put(cache, "k", "C", None)
    assert cache.get("k") == A and cache.get("k") == A
    assert (cache.hits, cache.misses, len(cache)) == (2, 1, 1)


def test_a_change_drops_its_identities_and_the_broad_answers_only() -> None:
    cache = _cache()
    _put(cache, "by-no", "C", frozenset({("no", "1000")}))
    _put(cache, "by-crm", "C", frozenset({("crm", "c-1000")}))
    _put(cache, "other-item", "C", frozenset({("no", "2000")}))
    _put(cache, "two-items", "C", frozenset({("no", "2000"), ("no", "1000")}))
    _put(cache, "list", "C", None)
    _put(cache, "other-company", "D", frozenset({("no", "1000")}))
    _put(cache, "other-company-list", "D", None)
    cache.invalidate("C", ITEM_1000)
    gone = {k for k in ("by-no", "by-crm", "two-items", "list") if cache.get(k) is None}
    kept = {k for k in ("other-item", "other-company", "other-company-list") if cache.get(k) is not None}
    assert gone == {"by-no", "by-crm", "two-items", "list"}
    assert kept == {"other-item", "other-company", "other-company-list"}
    # A change of an item no answer depends on still drops the broad ones.
    _put(cache, "list", "C", None)
    cache.invalidate("C", [("no", "9999")])
    assert cache.get("list") is None and cache.get("other-item") is not None


def test_an_answer_computed_before_a_change_is_not_stored_after_it() -> None:
    cache = _cache()
    generation = cache.generation("C")
    cache.invalidate("C", [("no", "1000")])  # the change lands while the answer is being computed
    cache.put("k", A, "C", frozenset({("no", "1000")}), generation)
    assert cache.get("k") is None and len(cache) == 0
    # Another company's change does not hold this one's answers back.
    generation = cache.generation("C")
    cache.invalidate("D", [("no", "1000")])
    cache.put("k", A, "C", frozenset({("no", "1000")}), generation)
    assert cache.get("k") == A


def test_invalidate_company_and_clear() -> None:
    cache = _cache()
    _put(cache, "c1", "C", frozenset({("no", "1")}))
    _put(cache, "c2", "C", None)
    _put(cache, "d1", "D", frozenset({("no", "1")}))
    generation_d = cache.generation("D")
    cache.invalidate_company("C")
    assert cache.get("c1") is None and cache.get("c2") is None and cache.get("d1") == A
    cache.clear()
    assert len(cache) == 0
    cache.put("late", A, "D", None, generation_d)
    assert cache.get("late") is None


def test_replacing_an_entry_moves_its_tags() -> None:
    cache = _cache()
    _put(cache, "k", "C", frozenset({("no", "1")}))
    _put(cache, "k", "C", frozenset({("no", "2")}))
    cache.invalidate("C", [("no", "1")])
    assert cache.get("k") == A
    cache.invalidate("C", [("no", "2")])
    assert cache.get("k") is None


def test_evicted_and_expired_entries_leave_no_index_behind() -> None:
    cache = _cache(maxsize=3)
    for i in range(10):
        _put(cache, f"k{i}", "C", frozenset({("no", str(i))}) if i % 2 else None)
    assert len(cache) == 3
    assert len(cache._meta) == 3
    assert sum(len(keys) for keys in cache._by_tag.values()) + len(cache._broad["C"]) == 3
    short = _cache(ttl=0.01)
    _put(short, "old", "C", frozenset({("no", "1")}))
    time.sleep(0.05)
    assert short.get("old") is None
    _put(short, "new", "C", None)  # a write sweeps what has expired
    assert set(short._meta) == {"new"} and not short._by_tag


def test_cached_answer_response() -> None:
    response = A.response()
    assert response.status == 200 and response.body == A.body
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=5"
    empty = CachedAnswer(204, "", b"", ()).response()
    assert empty.status == 204 and not empty.body and "Content-Type" not in empty.headers


def test_a_memo_forgets_everything_when_full_and_keeps_what_it_holds_until_then() -> None:
    memo: Memo[int, str] = Memo(maxsize=3)
    for i in range(3):
        memo[i] = str(i)
    memo[1] = "one"  # a key it holds: no forgetting
    assert memo == {0: "0", 1: "one", 2: "2"}
    memo[3] = "3"
    assert memo == {3: "3"}


def test_an_expiring_memo_forgets_an_entry_ttl_seconds_after_it_was_put() -> None:
    now = [100.0]
    memo: ExpiringMemo[str, int] = ExpiringMemo(maxsize=3, ttl=10, timer=lambda: now[0])
    memo.put("a", 1)
    now[0] = 109.9
    assert memo.find("a") == 1
    memo.put("b", 2)  # b's clock starts now, a's did not move
    now[0] = 110.0
    assert memo.find("a") is None
    assert memo.find("b") == 2
    assert memo.find("missing") is None


def test_an_expiring_memo_starts_again_when_full() -> None:
    memo: ExpiringMemo[int, int] = ExpiringMemo(maxsize=2, ttl=60)
    memo.put(1, 1)
    memo.put(2, 2)
    memo.put(2, 20)  # a key it holds: replaced, nothing forgotten
    assert (memo.find(1), memo.find(2)) == (1, 20)
    memo.put(3, 3)
    assert (memo.find(1), memo.find(2), memo.find(3)) == (None, None, 3)
