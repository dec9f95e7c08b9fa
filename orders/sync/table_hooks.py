"""Which table hooks a mapping's run uses: orders/sync/hooks.py (units, products, currencies),
orders/sync/price_hooks.py (price lists and their items) and orders/sync/invoice_hooks.py (posted
invoices and their lines)."""

from __future__ import annotations

from orders.sync.defaults import POSTED_SALES_INVOICE
from orders.sync.hooks import HOOKS, Hooks
from orders.sync.invoice_hooks import PostedInvoiceHooks
from orders.sync.price_hooks import PRICE_HOOKS

_ALL: dict[str, Hooks] = {**HOOKS, **PRICE_HOOKS}


def hooks_for(name: str) -> Hooks:
    if name == POSTED_SALES_INVOICE:
        return PostedInvoiceHooks()
    return _ALL.get(name, Hooks())
