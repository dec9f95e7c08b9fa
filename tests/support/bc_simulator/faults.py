"""Injected failures: what BC, its front door or the network sometimes do to a request.

A rule matches a method and a glob over the request path (``*`` crosses ``/``), fires a number of
times (or forever), and does one of: answer a status (429/503 with Retry-After, 500, 504, ...),
delay the answer, drop the connection before doing anything, or **commit, then drop**: the request
is carried out (the order exists) and the TCP connection is closed without an answer, which is the
indeterminate result an exactly-once writer must survive.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

FaultKind = Literal["status", "delay", "drop", "drop_after_commit"]
_DEFAULT_BODIES: dict[int, tuple[str, str]] = {
    408: ("Request_Timeout", "The operation has timed out."),
    429: ("Application_TooManyRequests", "Too many requests reached."),
    500: ("Internal_ServerError", "An unexpected error has occurred."),
    502: ("Internal_BadGateway", "Bad gateway."),
    503: ("Internal_ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("Internal_GatewayTimeout", "The request took too long to complete."),
}
_ids = itertools.count(1)


@dataclass
class Fault:
    kind: FaultKind
    path: str = "*"
    method: str = "*"
    status: int = 503
    retry_after: int | None = None
    delay: float = 0.0
    # None: every matching request, until removed.
    times: int | None = 1
    # Replaces the JSON error body (e.g. a proxy's HTML page), with its content type.
    body: str | None = None
    content_type: str = "text/html"
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.method == "*" or self.method.upper() == method.upper()) and fnmatchcase(path, self.path)

    def error_body(self) -> dict[str, Any]:
        code, message = _DEFAULT_BODIES.get(self.status, ("Unknown", "Injected failure."))
        return {"error": {"code": code, "message": message}}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self) -> None:
        self.rules: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.rules.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first live rule for this request, counted as fired."""
        for rule in self.rules:
            if rule.matches(method, path):
                rule.hits += 1
                return rule
        return None

    def remove(self, fault_id: int) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != fault_id]
        return len(self.rules) != before

    def clear(self) -> None:
        self.rules.clear()
