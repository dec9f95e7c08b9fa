"""What the simulator raises: refusals a test sees, and Dataverse's error answers."""

from __future__ import annotations

import json

from aiohttp import web


class SimulatorError(Exception):
    """A helper was asked to do something Sales would not allow (e.g. submit a Submitted order)."""


class DeliveryFailed(SimulatorError):
    """A synchronous webhook failed, so Sales rolled the operation back ("Endpoint unavailable")."""


class Refused(Exception):
    """A request Dataverse refuses: the Web API answers it as ``{"error": {code, message}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Dataverse's error answer: ``{"error": {"code": ..., "message": ...}}``."""
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)
