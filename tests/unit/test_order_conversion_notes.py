"""BC's rules for turning a submitted Sales order into a BC sales order: notes, and the rule codes
errors carry (docs/reference/bc-rules.md §4.7)."""

from __future__ import annotations

import pytest

from orders.dataverse.records import (
    Note,
)
from orders.sales_order_to_bc_order import ConversionError, sales_order_to_bc_order
from tests.support.builders import (
    convert,
    order,
    order_input,
)

# ---- notes ----------------------------------------------------------------------------------


def test_notes() -> None:
    notes = (
        Note(annotationid="f0000001-0000-ef11-a671-000d3a4b5c6d", subject="S" * 600, notetext="<p>Hi &amp; bye</p>"),
        Note(annotationid="f0000002-0000-ef11-a671-000d3a4b5c6d", subject="file", isdocument=True, filesize=10),
        Note(annotationid="f0000003-0000-ef11-a671-000d3a4b5c6d", subject=None, notetext=None, isdocument=False),
    )
    doc = convert(order_input(notes=notes))
    assert [(n.description, n.text, n.sales_note_id) for n in doc.notes] == [
        ("S" * 250, "Hi & bye", "f0000001-0000-ef11-a671-000d3a4b5c6d"),
        ("", "", "f0000003-0000-ef11-a671-000d3a4b5c6d"),
    ]


def test_errors_carry_a_rule_code() -> None:
    with pytest.raises(ConversionError) as caught:
        sales_order_to_bc_order(order_input(order(customer=None)))
    assert caught.value.code == "no_customer"
    assert isinstance(caught.value, ValueError)
