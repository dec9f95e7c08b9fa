"""/webhooks/business-central: Business Central's webhook notifications (docs/reference/bc-api.md §6).

- **Handshake** (§6.2): creating or renewing a subscription makes BC call
  ``?validationToken=...`` (a POST with an empty body, or a GET) and wait 5 seconds for 200 with
  the token as a plain-text body. Answered at once, without touching the database.
- **Notifications** (§6.4): a JSON POST of ``{"value": [...]}``. No signature: each notification's
  ``clientState`` is checked against the salted hash kept for its subscription. The good ones are
  queued (``bc_notification``) and the in-process mirror is woken; the answer (202) does not wait
  for any refresh — BC deletes a subscription whose receiver keeps failing (§6.6). Not one good
  notification: 401 (BC then drops a subscription we no longer know). A body that is not BC's:
  400. The database away: 503, which BC retries.

Like the Sales webhook this route is outside Basic authentication: BC sends no credentials.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from gateway.odata.errors import bad_request, service_unavailable, unauthorized
from gateway.request_body import read_body
from orders.bc_link.mirror import NotificationError, accept
from schemas.db import is_unavailable

log = logging.getLogger("bcgw.webhooks")

PATH = "/webhooks/business-central"
MAX_BODY = 1024 * 1024  # 1,000 notifications of a few hundred bytes fit (BC folds more into one, §6.5)


def _handshake(request: web.Request) -> web.Response | None:
    token = request.query.get("validationToken")
    if token is None:
        return None
    log.info("BC webhook: validation handshake answered")
    return web.Response(status=200, text=token, content_type="text/plain")


def add_bc_webhook_routes(app: web.Application, gateway_key: web.AppKey[Any]) -> None:
    async def handshake_only(request: web.Request) -> web.Response:
        answer = _handshake(request)
        if answer is None:
            raise bad_request("A GET here is BC's validation handshake: it carries ?validationToken=.")
        return answer

    async def receive(request: web.Request) -> web.Response:
        answer = _handshake(request)
        if answer is not None:
            return answer
        body = await read_body(request, MAX_BODY, "notification")
        gateway = request.app[gateway_key]
        try:
            accepted = await accept(gateway.engine(), body, dt.datetime.now(dt.UTC))
        except NotificationError as exc:
            log.warning("BC webhook: unreadable notification from %s: %s", request.remote, exc)
            raise bad_request(f"Not a Business Central notification: {exc}") from None
        except Exception as exc:
            if not is_unavailable(exc) and not isinstance(exc, SQLAlchemyError):
                raise
            log.error("BC webhook: could not queue the notifications (%s); answering 503", type(exc).__name__)
            raise service_unavailable("The notifications could not be stored; try again.", 60) from None
        if accepted.refused:
            log.warning(
                "BC webhook: %d notifications from %s refused (unknown subscription or wrong clientState)",
                accepted.refused,
                request.remote,
            )
        if not accepted.queued and accepted.refused:
            raise unauthorized("Business Central webhook", "The notification's clientState was not accepted.")
        if accepted.queued:
            gateway.wake_mirror()
        return web.Response(status=202, body=orjson.dumps({"queued": accepted.queued}), content_type="application/json")

    app.router.add_get(PATH, handshake_only)
    app.router.add_post(PATH, receive)
