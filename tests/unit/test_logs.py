"""The access log never carries a secret from the query string."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gateway.logs import RedactingAccessLogger, redact_query


@pytest.mark.parametrize(
    ("path_qs", "expected"),
    [
        ("/webhooks/dataverse?code=s3cr3t", "/webhooks/dataverse?code=***"),
        ("/x?a=1&code=s3cr3t&b=2", "/x?a=1&code=***&b=2"),
        ("/x?Secret=abc&token=def&password=ghi&key=jkl", "/x?Secret=***&token=***&password=***&key=***"),
        (
            "/ODataV4/ItemAvailability?$filter=No%20eq%20'code=1'",
            "/ODataV4/ItemAvailability?$filter=No%20eq%20'code=1'",
        ),
        ("/plain", "/plain"),
    ],
)
def test_redact_query(path_qs: str, expected: str) -> None:
    assert redact_query(path_qs) == expected


class _Request:
    remote = "203.0.113.9"
    method = "POST"
    path_qs = "/webhooks/dataverse?code=the-webhook-secret"

    def get(self, _key: Any, default: Any = None) -> Any:
        return default


class _Response:
    status = 200


def test_access_log_line_has_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access")
    caplog.set_level(logging.INFO, logger="test.access")
    RedactingAccessLogger(logger, "").log(_Request(), _Response(), 0.0123)  # type: ignore[arg-type]
    (record,) = caplog.records
    text = record.getMessage()
    assert "the-webhook-secret" not in text
    assert text == '203.0.113.9 "POST /webhooks/dataverse?code=***" 200 12.3ms'
