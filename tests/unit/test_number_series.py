"""BC's INCSTR, which every number series uses: one more in the last run of digits, same width
(the series themselves, under concurrency: tests/integration/test_sales_document_store.py)."""

from __future__ import annotations

import pytest

from schemas import sales_document_store as store


@pytest.mark.parametrize(
    ("number", "following"),
    [("SO000001", "SO000002"), ("SO000099", "SO000100"), ("SO999", "SO1000"), ("A9-B", "A10-B"), ("Q1-07", "Q1-08")],
)
def test_increment_adds_one_to_the_last_digits(number: str, following: str) -> None:
    assert store.increment(number) == following


def test_increment_needs_digits() -> None:
    with pytest.raises(ValueError, match="has no digits"):
        store.increment("SO-NEW")
