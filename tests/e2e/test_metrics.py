"""/metrics counts every answer by route, method and status (gateway/metrics.py)."""

from __future__ import annotations

import re
from typing import Any

PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"


def _count(text: str, route: str, status: str) -> float:
    m = re.search(rf'bcgw_requests_total{{method="GET",route="{route}",status="{status}"}} (\S+)', text)
    return float(m.group(1)) if m else 0.0


async def test_answers_are_counted_by_route_and_status(api: Any) -> None:
    _s, _h, before = await api.get("/metrics")
    for _ in range(3):
        assert (await api.get(PIA + "?$top=1"))[0] == 200
    assert (await api.get("/ODataV4/NoSuchSet"))[0] == 404
    assert (await api.get("/OData/Company('CRONUS')/ProductItemAvailability?$top=1"))[0] == 200
    status, _h, after = await api.get("/metrics")
    assert status == 200
    assert _count(after, "odata_v4", "200") - _count(before, "odata_v4", "200") == 3
    assert _count(after, "odata_v4", "404") - _count(before, "odata_v4", "404") == 1
    assert _count(after, "odata_v3", "200") - _count(before, "odata_v3", "200") == 1
    assert 'bcgw_request_seconds_count{route="odata_v4"}' in after
