"""Which table hooks a mapping's run uses: orders/sync/hooks.py (units, products, currencies) and
orders/sync/price_hooks.py (price lists and their items)."""

from __future__ import annotations

from orders.sync.hooks import HOOKS, Hooks
from orders.sync.price_hooks import PRICE_HOOKS

_ALL: dict[str, Hooks] = {**HOOKS, **PRICE_HOOKS}


def hooks_for(name: str) -> Hooks:
    return _ALL.get(name, Hooks())
