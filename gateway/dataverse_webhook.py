"""POST /webhooks/dataverse: Sales' deliveries, stored in the inbox before Sales hears 2xx.

Authentication as the setup says: Dataverse's WebhookKey (`?code=SECRET`) or HttpHeader (the
configured header carries the secret), compared in constant time; a user with the INTEGRATION
role may also deliver with HTTP Basic. Sales reads only the status code: 2xx done, 502/503/504
retried once, anything else final. So: unreadable bodies 400, too large 413, wrong credentials
401, another organisation 403, and 503 when the delivery could not be stored.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from gateway.odata.errors import (
    bad_request,
    forbidden,
    service_unavailable,
    too_many_requests,
    unauthorized,
)
from gateway.request_body import read_body
from orders.change_setup import load_connection_setup
from orders.dataverse.webhook_context import ContextError, classify, parse_context
from orders.inbox import QUOTE, SALESORDER, Delivery, record_delivery
from orders.inbox.states import DeliveryResult
from orders.setup import ConnectionSetup
from schemas.db import is_unavailable
from schemas.roles import INTEGRATION
from schemas.users import secret_matches

log = logging.getLogger("bcgw.webhooks")

PATH = "/webhooks/dataverse"
MAX_BODY = 1024 * 1024
SIZE_EXCEEDED = "x-ms-dynamics-msg-size-exceeded"


def _clean(text: str) -> str:
    """Text fit for the delivery log: JSON may carry NUL and lone surrogates no database takes."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _secret_from_request(request: web.Request, setup: ConnectionSetup) -> str | None:
    if setup.webhook_auth_mode == "code":
        return request.query.get("code")
    return request.headers.get(setup.webhook_header_name)


async def _authenticate(request: web.Request, gateway: Any, setup: ConnectionSetup) -> str:
    """Who delivers: 'webhook secret' or the Basic user's name; raises 401/403 otherwise."""
    if request.headers.get("Authorization", "").lower().startswith("basic "):
        principal = await gateway.auth.authenticate(request)
        if INTEGRATION not in principal.user.roles:
            raise forbidden("Delivering webhooks needs the role INTEGRATION (Integration User).")
        return principal.user.user_name
    # Guessing the secret is throttled per client address: after BCGW_WEBHOOK_FAILURES wrong
    # secrets in the window that address gets 429 (before any check), other addresses carry on.
    lockout = gateway.auth.lockout
    subject = "hook:" + (request.remote or "unknown")
    try:
        wait = await lockout.retry_after(subject)
    except SQLAlchemyError as exc:
        log.error("webhook: cannot check failed deliveries: %s", type(exc).__name__)
        raise service_unavailable("The database is not available; try again.", 10) from None
    if wait:
        log.warning("webhook refused (too many wrong secrets): address=%s retry_after=%s", request.remote, wait)
        raise too_many_requests(wait, "Too many deliveries with wrong credentials; try again after Retry-After.")
    given = _secret_from_request(request, setup)
    # Always one hash and one constant-time compare, whether or not a secret was given or set.
    ok = secret_matches(given or "", setup.webhook_secret_salt, setup.webhook_secret_hash)
    if not ok or not given:
        try:
            await lockout.fail(subject)
        except SQLAlchemyError as exc:
            log.error("webhook: cannot record a failed delivery: %s", type(exc).__name__)
            raise service_unavailable("The database is not available; try again.", 10) from None
        log.warning(
            "webhook refused: address=%s reason=%s",
            request.remote,
            "no secret configured"
            if setup.webhook_secret_hash is None
            else ("no secret given" if not given else "wrong secret"),
        )
        raise unauthorized("Dataverse webhook", "The webhook credentials were not accepted.")
    return "webhook secret"


def _check_organisation(request: web.Request, setup: ConnectionSetup) -> None:
    if not setup.sales_url:
        return
    expected = (urlsplit(setup.sales_url).hostname or "").lower()
    given = request.headers.get("x-ms-dynamics-organization", "").strip().lower()
    # The header carries the organisation's host name (sometimes with a port or a scheme).
    given_host = (urlsplit(given if "//" in given else "//" + given).hostname or "").lower()
    if given_host != expected:
        raise forbidden(
            f"This gateway takes deliveries from {expected} only; this one came from "
            f"'{given or 'an unnamed organisation'}'."
        )


def add_webhook_routes(app: web.Application, gateway_key: web.AppKey[Any]) -> None:
    async def receive(request: web.Request) -> web.Response:
        gateway = request.app[gateway_key]
        try:
            async with gateway.engine().connect() as conn:
                setup = await load_connection_setup(conn)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.error("webhook: cannot read the setup: %s", type(exc).__name__)
            raise service_unavailable("The database is not available; try again.", 10) from None
        who = await _authenticate(request, gateway, setup)
        _check_organisation(request, setup)
        body = await read_body(request, MAX_BODY, "delivery")
        size_exceeded = request.headers.get(SIZE_EXCEEDED, "").strip().lower() in ("true", "1", "yes")
        try:
            context = parse_context(body)
        except ContextError as exc:
            log.warning("webhook: unreadable delivery from %s: %s", request.remote, exc)
            raise bad_request(f"The body is not a RemoteExecutionContext: {exc}") from None

        found = classify(context, size_exceeded)
        if found.revision is not None and not 0 <= found.revision < 2**31:
            raise bad_request(
                f"The body is not a RemoteExecutionContext: revisionnumber {found.revision} is out of range."
            )
        event, reason = found.event, found.reason
        if event is not None and not setup.sales_order_integration_enabled and found.table in (SALESORDER, QUOTE):
            event, reason = None, "sales order integration is not enabled"
        delivery = Delivery(
            table_name=_clean(found.table),
            sales_id=_clean(found.row_id),
            message_name=_clean(context.message_name),
            event=event,
            revision=found.revision,
            reason=_clean(reason),
            correlation_id=_clean(context.correlation_id or request.headers.get("x-ms-correlation-request-id") or ""),
            operation_id=_clean(context.operation_id or ""),
            organization=_clean(request.headers.get("x-ms-dynamics-organization", "")),
            size_exceeded=size_exceeded,
            body=_clean(body.decode("utf-8", errors="replace")),
        )
        try:
            outcome = await record_delivery(gateway.engine(), gateway.settings.company, delivery)
        except Exception as exc:
            if not is_unavailable(exc) and not isinstance(exc, SQLAlchemyError):
                raise
            # Not stored: Sales must try again (it retries once on 503), so never 2xx here.
            log.error("webhook: could not store the delivery (%s); answering 503", type(exc).__name__)
            raise service_unavailable("The delivery could not be stored; try again.", 10) from None
        log.info(
            "webhook %s %s %s from %s: %s%s",
            context.message_name,
            found.table,
            found.row_id,
            who,
            outcome.outcome,
            f" ({reason})" if outcome.outcome == DeliveryResult.IGNORED else "",
        )
        if outcome.outcome != DeliveryResult.IGNORED:
            gateway.wake_worker()
        return _answer(200, {"outcome": outcome.outcome, "inbox_id": outcome.inbox_id, "reason": delivery.reason})

    app.router.add_post(PATH, receive)
