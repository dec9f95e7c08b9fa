"""Request bodies as the handlers read them: decoded here, not by aiohttp (the app turns its
automatic decompression off), so that a body whose Content-Encoding is wrong is a 400 with the
reason, an unknown encoding a 415, and a body that inflates past the limit a 413 — never a 500
or a connection left hanging (issue 9, items 2 and 4).

`gzip` (and its old name `x-gzip`), `deflate` (zlib-wrapped as RFC 9110 says, or raw as some
clients send it) and `identity` are understood, also as a list ("gzip, identity"): the codings
were applied in the order listed, so they are undone from the last.
"""

from __future__ import annotations

import zlib

from aiohttp import web

from gateway.odata.errors import ODataError, bad_request

__all__ = ["SUPPORTED", "decode_body", "read_body"]

SUPPORTED = "gzip, deflate"
_ALIASES = {"x-gzip": "gzip"}


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit // 1024} KiB"


def _too_large(limit: int, what: str, decoded: bool = False) -> ODataError:
    return ODataError(
        413,
        "BadRequest_RequestEntityTooLarge",
        f"The {what} is larger than {_size(limit)}{' once decoded' if decoded else ''}.",
    )


def _inflate(data: bytes, wbits: int, coding: str, limit: int, what: str) -> bytes:
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        # max_length bounds the memory a small "bomb" can claim: one byte past the limit is enough to know.
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise _not_encoded(coding, str(exc)) from None
    if len(out) > limit:
        raise _too_large(limit, what, decoded=True)
    if not inflater.eof:
        raise _not_encoded(coding, "it is incomplete, it ends before the compressed stream does")
    if inflater.unused_data:
        raise _not_encoded(coding, "more data follows the end of the compressed stream")
    return out


def _not_encoded(coding: str, detail: str) -> ODataError:
    return bad_request(
        f"The body is not {coding} data, although its Content-Encoding says {coding}: {detail}. "
        "Send it uncompressed without Content-Encoding, or compressed as the header says."
    )


def _decode_one(data: bytes, coding: str, limit: int, what: str) -> bytes:
    if coding == "gzip":
        return _inflate(data, 16 + zlib.MAX_WBITS, coding, limit, what)
    # deflate: RFC 9110 means the zlib format; raw deflate is common enough to be taken too.
    if len(data) >= 2 and data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0:
        return _inflate(data, zlib.MAX_WBITS, coding, limit, what)
    return _inflate(data, -zlib.MAX_WBITS, coding, limit, what)


def decode_body(data: bytes, content_encoding: str | None, limit: int, what: str = "body") -> bytes:
    """The body with its content codings undone; ODataError 400, 413 or 415 otherwise."""
    if not content_encoding:
        return data
    codings = [_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    unknown = [c for c in codings if c not in ("gzip", "deflate")]
    if unknown:
        raise ODataError(
            415,
            "BadRequest_UnsupportedMediaType",
            f"The Content-Encoding '{unknown[0]}' is not supported; send the body uncompressed, or as {SUPPORTED}.",
            headers={"Accept-Encoding": SUPPORTED},
        )
    for coding in reversed(codings):
        data = _decode_one(data, coding, limit, what)
    return data


async def read_body(request: web.Request, limit: int, what: str = "body") -> bytes:
    """The request's body, decoded, at most `limit` bytes before and after decoding (413 beyond)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, what)
    data = await request.read()
    if len(data) > limit:
        raise _too_large(limit, what)
    return decode_body(data, request.headers.get("Content-Encoding"), limit, what)
