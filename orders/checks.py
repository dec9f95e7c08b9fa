"""The result of one step of a connection check (`bc-gateway setup test`), for every connection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One step: its ``name`` (``dns``, ``connect``, ``token``, ``api``, ``company``,
    ``read:<set>``, ``page:<name>``, ``whoami`` ...), whether it passed, a message for a person, and
    whether the connection is unusable without it (``required``) or only a feature is."""

    name: str
    ok: bool
    message: str
    required: bool = True
