"""``/api/v2.0/subscriptions``: webhook subscription CRUD with BC's handshake and 3-day expiry.

Creating or renewing (PATCH) a subscription first calls ``notificationUrl?validationToken=...``;
the receiver must answer 200 with the token as the body within the handshake timeout (5 s), or
nothing is created. Subscriptions live at tenant level and use string keys:
``subscriptions('{subscriptionId}')``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

import aiohttp

from .config import SimConfig
from .doc_entities import SUBSCRIPTIONS
from .errors import ApiError, method_not_allowed, query_syntax, record_not_found, resource_not_found
from .fields import etag_for
from .masterdata import convert_body
from .paging import shape
from .request import ApiRequest, ApiResponse, check_etag, parse_path
from .store import Rec, Store
from .views import API_SETS, schema_for
from .webhooks import Notifier, Subscription

_RESOURCE = re.compile(r"^/?(?:api/v2\.0/)?companies\((?P<company>[0-9a-fA-F-]{36})\)/(?P<set>[A-Za-z]+)$")


class SubscriptionApi:
    def __init__(self, store: Store, config: SimConfig, notifier: Notifier) -> None:
        self.store = store
        self.config = config
        self.notifier = notifier

    async def handle(self, req: ApiRequest) -> ApiResponse:
        try:
            return await self._route(req)
        except ApiError as err:
            return ApiResponse(err.status, err.body(self.config.correlation_ids), dict(err.headers))

    async def _route(self, req: ApiRequest) -> ApiResponse:
        self.notifier.expire()
        segs = parse_path(req.path)
        if len(segs) != 1:
            raise resource_not_found(segs[-1].name)
        key = segs[0].key
        if key is None:
            if req.method == "GET":
                return self._list(req)
            if req.method == "POST":
                return await self._create(req)
            raise method_not_allowed(req.method, "subscriptions", "EntitySet")
        if not (key.startswith("'") and key.endswith("'")):
            raise query_syntax()
        sub = self.notifier.subscriptions.get(key[1:-1])
        if sub is None:
            raise record_not_found("API Webhook Subscription", f"Subscription Id='{key[1:-1]}'")
        if req.method == "GET":
            return self._one(req, sub.rec, 200)
        if req.method == "PATCH":
            check_etag(req, sub.rec, required=True)
            return await self._renew(req, sub)
        if req.method == "DELETE":
            check_etag(req, sub.rec, required=False)
            self.notifier.delete(sub.id)
            return ApiResponse(204)
        raise method_not_allowed(req.method, "subscriptions")

    def _one(self, req: ApiRequest, rec: Rec, status: int) -> ApiResponse:
        body = {
            "@odata.context": f"{req.root}/$metadata#subscriptions/$entity",
            **shape(rec, list(schema_for(None, SUBSCRIPTIONS).values())),
        }
        return ApiResponse(status, body, {"ETag": body["@odata.etag"]})

    def _list(self, req: ApiRequest) -> ApiResponse:
        cols = list(schema_for(None, SUBSCRIPTIONS).values())
        value = [shape(s.rec, cols) for s in self.notifier.subscriptions.values()]
        return ApiResponse(200, {"@odata.context": f"{req.root}/$metadata#subscriptions", "value": value})

    def _target(self, req: ApiRequest, resource: str) -> tuple[str, str, bool]:
        match = _RESOURCE.match(resource.strip())
        defn = API_SETS.get(match.group("set")) if match else None
        if match is None or defn is None or not defn.webhook:
            raise ApiError(400, "BadRequest", f"The resource '{resource}' is not supported for subscriptions.")
        company = self.store.company(match.group("company"))
        if company is None:
            raise ApiError(404, "Internal_CompanyNotFound", f"The company '{match.group('company')}' does not exist.")
        allowed = req.identity.companies
        if req.identity.access(defn.set_name) == "none" or (allowed is not None and company.name not in allowed):
            raise ApiError(
                403,
                "Authorization_InsufficientPermissions",
                f"Sorry, the current permissions prevented the action. (TableData {defn.table_no} {defn.caption} "
                "Read: Base Application)",
            )
        return company.id, defn.set_name, defn.has_last_modified

    async def _handshake(self, url: str) -> None:
        token = secrets.token_urlsafe(24)
        target = f"{url}{'&' if '?' in url else '?'}validationToken={token}"
        session = self.notifier.session
        assert session is not None
        timeout = aiohttp.ClientTimeout(total=self.config.handshake_timeout)
        failure = "The notification URL did not answer the validation request."
        try:
            async with session.request(self.config.handshake_method, target, timeout=timeout) as resp:
                text = await resp.text()
                if resp.status == 200 and text.strip().strip('"') == token:
                    return
                failure = f"The notification URL answered the validation request with {resp.status}, not the token."
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            pass
        raise ApiError(400, "BadRequest", f"The subscription could not be created. {failure}")

    def _body(self, req: ApiRequest) -> dict[str, Any]:
        data = convert_body(SUBSCRIPTIONS, req.json())
        if not data.get("notificationUrl") or not data.get("resource"):
            missing = "notificationUrl" if not data.get("notificationUrl") else "resource"
            raise ApiError(400, "BadRequest_RequiredParamNotProvided", f"Field '{missing}' must not be blank or empty.")
        return data

    async def _create(self, req: ApiRequest) -> ApiResponse:
        data = self._body(req)
        if len(self.notifier.subscriptions) >= self.config.max_subscriptions:
            raise ApiError(
                400,
                "BadRequest",
                f"The maximum number of subscriptions ({self.config.max_subscriptions}) has been reached.",
            )
        company_id, set_name, has_lmdt = self._target(req, data["resource"])
        await self._handshake(data["notificationUrl"])
        now = self.clock_now()
        rec: Rec = {
            "subscriptionId": uuid.uuid4().hex,
            "notificationUrl": data["notificationUrl"],
            "resource": data["resource"],
            "userId": req.identity.user_id,
            "lastModifiedDateTime": now,
            "clientState": data.get("clientState", ""),
            "expirationDateTime": now + timedelta(seconds=self.config.subscription_lifetime),
            "timestamp": 0,
            "systemCreatedAt": now,
            "systemCreatedBy": req.identity.user_id,
            "systemModifiedAt": now,
            "systemModifiedBy": req.identity.user_id,
            "_v": self.store.next_version(),
        }
        rec["timestamp"] = rec["_v"]
        self.notifier.add(Subscription(rec, company_id, set_name, has_lmdt))
        response = self._one(req, rec, 201)
        response.headers["Location"] = f"{req.root}/subscriptions('{rec['subscriptionId']}')"
        return response

    async def _renew(self, req: ApiRequest, sub: Subscription) -> ApiResponse:
        data = convert_body(SUBSCRIPTIONS, req.json())
        if "resource" in data and data["resource"] != sub.rec["resource"]:
            company_id, set_name, has_lmdt = self._target(req, data["resource"])
            sub.company_id, sub.set_name, sub.has_last_modified = company_id, set_name, has_lmdt
        url = data.get("notificationUrl", sub.url)
        await self._handshake(url)
        now = self.clock_now()
        sub.rec.update(data)
        sub.rec.update(
            lastModifiedDateTime=now,
            systemModifiedAt=now,
            systemModifiedBy=req.identity.user_id,
            expirationDateTime=now + timedelta(seconds=self.config.subscription_lifetime),
            _v=self.store.next_version(),
        )
        sub.rec["timestamp"] = sub.rec["_v"]
        response = self._one(req, sub.rec, 200)
        response.headers["ETag"] = etag_for(sub.rec["_v"])
        return response

    def clock_now(self) -> Any:
        return self.store.clock.now()
