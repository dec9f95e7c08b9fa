"""Host names the gateway answers (issue 9, item 7) and `GET /` (item 21), over real HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.app import create_app
from gateway.config import Settings
from tests.support.helpers import Api

IA = "/ODataV4/ItemAvailability?$top=1"


async def test_a_host_nobody_configured_is_refused_not_used_for_links(api: Any) -> None:
    status, _h, body = await api.get(IA, headers={"Host": "evil.example"})
    assert status == 400
    assert body["error"]["code"] == "BadRequest_InvalidHost"
    assert "'evil.example'" in body["error"]["message"] and "BCGW_ALLOWED_HOSTS" in body["error"]["message"]
    status, _h, body = await api.get("/OData/ItemAvailability", headers={"Host": "evil.example"})
    assert status == 400 and body["odata.error"]["code"] == "BadRequest_InvalidHost"
    # Health checks and webhooks print no URLs: not checked.
    assert (await api.get("/health", auth=None, headers={"Host": "10.1.2.3:8080"}))[0] == 200
    status, _h, body = await api.get(IA)
    assert status == 200 and body["@odata.context"].startswith(api.base + "/ODataV4/")


async def test_allowed_hosts_and_the_public_url(
    settings: Settings, engine: Any, demo: dict[str, Any], aiohttp_server: Any
) -> None:
    changed = dataclasses.replace(settings, allowed_hosts=("*.example.com",), public_url="https://bc.contoso.com")
    server = await aiohttp_server(create_app(changed, engine=engine, worker=False))
    async with Api(server, demo["user"], demo["key"]) as api:
        status, _h, body = await api.get(IA, headers={"Host": "gw.example.com:8080"})
        assert status == 200 and body["@odata.context"].startswith("https://bc.contoso.com/ODataV4/")
        assert (await api.get(IA, headers={"Host": "bc.contoso.com"}))[0] == 200
        assert (await api.get(IA))[0] == 400  # 127.0.0.1 is not in the list that replaced the default


async def test_root_says_where_things_are(api: Any) -> None:
    status, headers, body = await api.get("/", auth=None)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body["odata_v4"] == "/ODataV4/" and body["health"] == "/health"
    status, _h, _b = await api.get(body["odata_v4"], auth=None)
    assert status == 401  # the pointers are right, and OData still needs a key
