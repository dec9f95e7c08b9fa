"""Logging helpers: the access log never carries a secret (a webhook's ?code=...)."""

from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from gateway.proxy import FORWARDED_CLIENT

_SECRET_PARAMS = re.compile(r"(?i)([?&](?:code|key|secret|token|password)=)[^&]*")


def redact_query(path_qs: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", path_qs)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            # Behind a trusted proxy, the client it saw (the request logged is the one that arrived).
            request.get(FORWARDED_CLIENT, request.remote),
            request.method,
            redact_query(request.path_qs),
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(20)
