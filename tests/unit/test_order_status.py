"""What a BC order's release, shipment or invoice means for Sales (bc-sync.md §10), pure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from orders.sync.order_status import (
    INVOICE,
    INVOICED,
    RELEASE,
    SHIPMENT,
    STATUS_INVOICED,
    SUBMITTED,
    BufferRow,
    decide,
    fields_to_write,
    order_fields,
    post_id,
)

SALES = "5b1e3c62-8c1f-4a53-9a43-0b6e9e0c1a11"
HEADER = {
    "amount": Decimal("3000.00000"),
    "amount_including_vat": Decimal("3750.00000"),
    "invoice_discount_amount": Decimal("0"),
    "requested_delivery_date": dt.date(2026, 12, 20),
}


def _row(
    id_: int, kind: str, *, sales_id: str | None = SALES, invoiced: bool = False, shipped: bool = False
) -> BufferRow:
    fields = order_fields(HEADER, dt.date(2026, 12, 1) if shipped else None)
    return BufferRow(id_, "SO000001", sales_id, kind, fields, invoiced)


def test_the_salesorder_order_fields_are_bcs() -> None:
    assert order_fields(HEADER, dt.date(2026, 12, 1)) == {
        "totalamountlessfreight": 3000.0,
        "totalamount": 3750.0,
        "discountamount": 0.0,
        "requestdeliveryby": "2026-12-20",
        "datefulfilled": "2026-12-01",
    }
    assert "datefulfilled" not in order_fields(HEADER, None)


def test_a_release_posts_bcs_text_once_and_puts_the_order_back_to_submitted() -> None:
    (update,) = decide("CRONUS", [_row(1, RELEASE)]).updates
    assert update.sales_id == SALES and update.statecode == SUBMITTED and update.statuscode is None
    assert [p.text for p in update.posts] == ["The order status has changed to Released."]
    assert update.posts[0].values() == {
        "postid": post_id("CRONUS", 1),
        "text": "The order status has changed to Released.",
        "source": 2,
        "type": 1,
    }
    assert update.fields["totalamount"] == 3750.0


def test_a_shipment_and_the_last_invoice_post_in_order_and_make_the_order_invoiced() -> None:
    rows = [_row(3, INVOICE, invoiced=True), _row(2, SHIPMENT, shipped=True)]
    (update,) = decide("CRONUS", rows).updates
    assert [p.text for p in update.posts] == [
        "A shipment has been created for the order.",
        "An invoice has been created for the order.",
    ]
    assert (update.statecode, update.statuscode) == (INVOICED, STATUS_INVOICED)
    assert update.fields["datefulfilled"] == "2026-12-01"  # the earlier shipment's date stays
    assert update.buffer_ids == (2, 3)


def test_an_uncoupled_order_is_discarded_without_a_post() -> None:
    decision = decide("CRONUS", [_row(4, RELEASE, sales_id=None), _row(5, "Preview")])
    assert decision.updates == () and decision.discarded == (4, 5)


def test_each_event_has_its_own_post_id_always_the_same() -> None:
    assert post_id("CRONUS", 1) == post_id("CRONUS", 1)
    assert len({post_id("CRONUS", 1), post_id("CRONUS", 2), post_id("OTHER", 1)}) == 3


def test_only_the_fields_that_differ_are_written() -> None:
    (update,) = decide("CRONUS", [_row(1, SHIPMENT, shipped=True)]).updates
    current = {
        "totalamountlessfreight": 3000,
        "totalamount": "3750.00",
        "discountamount": 5,
        "requestdeliveryby": "2026-12-20",
        "datefulfilled": None,
    }
    assert fields_to_write(update, current) == {"discountamount": 0.0, "datefulfilled": "2026-12-01"}
