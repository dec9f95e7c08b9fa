"""Content negotiation ($format, Accept) for JSON answers, $metadata and $count."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.odata.errors import not_acceptable


@dataclass(frozen=True, slots=True)
class JsonFormat:
    metadata: str = "minimal"  # minimal | none | full | verbose (V3 only)
    ieee754: bool = False  # IEEE754Compatible=true: Edm.Decimal and Edm.Int64 as strings
    v3: bool = False

    def content_type(self) -> str:
        if self.v3:
            level = {
                "minimal": "minimalmetadata",
                "none": "nometadata",
                "full": "fullmetadata",
                "verbose": "verbose",
            }[self.metadata]
            return f"application/json;odata={level};streaming=true;charset=utf-8"
        text = f"application/json; odata.metadata={self.metadata}"
        if self.ieee754:
            text += "; IEEE754Compatible=true"
        return text + "; charset=utf-8"


@dataclass(frozen=True, slots=True)
class MediaRange:
    type: str
    params: dict[str, str]
    q: float


def parse_accept(header: str) -> list[MediaRange]:
    ranges = []
    for part in header.split(","):
        if not part.strip():
            continue
        bits = [b.strip() for b in part.split(";")]
        params: dict[str, str] = {}
        q = 1.0
        for b in bits[1:]:
            if "=" not in b:
                continue
            k, v = (x.strip() for x in b.split("=", 1))
            if k.lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
            else:
                params[k.lower()] = v.strip('"')
        ranges.append(MediaRange(bits[0].lower(), params, q))
    return ranges


_V4_LEVELS = {"minimal", "none", "full"}
_V3_LEVELS = {
    "minimalmetadata": "minimal",
    "nometadata": "none",
    "fullmetadata": "full",
    "verbose": "verbose",
}


def _json_from_params(params: dict[str, str], v3: bool) -> JsonFormat | None:
    ieee = params.get("ieee754compatible", "false").lower() == "true"
    if v3:
        level = params.get("odata", "minimalmetadata").lower()
        if level not in _V3_LEVELS:
            return None
        return JsonFormat(_V3_LEVELS[level], ieee, True)
    level = params.get("odata.metadata", params.get("metadata", "minimal")).lower()
    if level not in _V4_LEVELS:
        return None
    return JsonFormat(level, ieee, False)


def negotiate_json(accept: str | None, format_option: str | None, v3: bool) -> JsonFormat:
    """The JSON flavour to answer with, or 406 when the client accepts none we make."""
    if format_option is not None:
        ranges = parse_accept(format_option)
        if format_option.strip().lower() == "json":
            return JsonFormat(v3=v3)
        if ranges and ranges[0].type == "application/json":
            chosen = _json_from_params(ranges[0].params, v3)
            if chosen:
                return chosen
        raise not_acceptable(f"The format '{format_option}' is not supported; use $format=json.")
    if not accept or not accept.strip():
        return JsonFormat(v3=v3)
    best: tuple[float, JsonFormat] | None = None
    for r in parse_accept(accept):
        if r.q <= 0 or r.type not in ("application/json", "application/*", "*/*"):
            continue
        chosen = _json_from_params(r.params, v3) if r.type == "application/json" else JsonFormat(v3=v3)
        if chosen and (best is None or r.q > best[0]):
            best = (r.q, chosen)
    if best is None:
        raise not_acceptable(
            f"None of the media types in the Accept header ('{accept}') can be served; "
            "this service answers application/json."
        )
    return best[1]


def accepts(accept: str | None, format_option: str | None, media: str) -> bool:
    """Does the client take `media` (for $metadata XML and $count text)?"""
    if format_option is not None:
        fmt = format_option.strip().lower()
        short = {"application/xml": "xml", "text/plain": "text"}.get(media)
        return fmt == short or fmt.split(";")[0].strip() == media
    if not accept or not accept.strip():
        return True
    major = media.split("/")[0]
    return any(r.q > 0 and r.type in (media, f"{major}/*", "*/*") for r in parse_accept(accept))
