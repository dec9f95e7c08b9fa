"""Logging helpers: the access log never carries a secret (a webhook's ?code=...)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_SECRET_PARAMS = re.compile(r"(?i)([?&](?:code|key|secret|token|password)=)[^&]*")


def redact_query(path_qs: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", path_qs)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            redact_query(request.path_qs),
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(20)


def access_log_kwargs() -> dict[str, Any]:
    return {"access_log_class": RedactingAccessLogger}
