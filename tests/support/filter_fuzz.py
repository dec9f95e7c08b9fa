"""Generated $filter expressions for the fuzz test (tests/e2e/test_filter_fuzz.py).

Mostly well-typed conditions over an entity set's real properties (so that the database, not only
the parser, is reached): comparisons, arithmetic, the functions we support, and/or chains, `in`
lists, `not`; literals from the awkward corners (64-bit and Edm.Decimal limits, 28 decimal
places, dates that do not exist, offsets that cross year 9999, quotes, `%`, NUL, non-ASCII);
some ill-typed on purpose; some mangled into syntax errors; some with parameter aliases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import strategies as st

from gateway.odata import edm

KINDS = {
    edm.STRING: "string",
    edm.GUID: "guid",
    edm.INT32: "number",
    edm.INT64: "number",
    edm.DECIMAL: "number",
    edm.BOOLEAN: "boolean",
    edm.DATE: "date",
    edm.DATETIMEOFFSET: "datetime",
}
COMPARE = ["eq", "ne", "gt", "ge", "lt", "le"]
ARITHMETIC = ["add", "sub", "mul", "div", "mod"]
NUMBER_EDGES = [
    0,
    1,
    -1,
    2**31 - 1,
    -(2**31),
    2**31,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
    10**30,
]
DECIMAL_EDGES = [
    "0.0",
    "-0.0",
    "1.5",
    "0.00001",
    "1e-28",
    "1e-29",
    "1e-400",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "7.9e28",
    "8e28",
    "1e400",
    "1.5e10",
    "99999999999999999999.99999",
]
# Text that is easy to get wrong in SQL, LIKE patterns and URLs.
TEXT_ALPHABET = st.sampled_from([*list("aA1-_ %'\"\\/?&#+=.,()[]*"), "\x00", "ä", "ß", "日", "\u2028", "😀"])


@dataclass(frozen=True, slots=True)
class Case:
    set_name: str
    filter: str
    aliases: tuple[tuple[str, str], ...] = ()


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def strings() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(TEXT_ALPHABET, max_size=12).map(_quoted),
        st.sampled_from(["'1896-S'", "'ATHENS Desk'", "'PCS'", "''", "'%'", "'_'", "'O''Brien'"]),
    )


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else text + ".0"


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from(NUMBER_EDGES).map(str),
        st.sampled_from(DECIMAL_EDGES),
        st.decimals(allow_nan=False, allow_infinity=False).map(_decimal_text).filter(lambda s: len(s) < 60),
        st.integers(-1000, 1000).map(lambda n: f"{n}M"),  # V3's decimal suffix
        st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:e}"),
    )


def dates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(lambda d: d.isoformat().rjust(10, "0")),
        # Dates that do not exist.
        st.tuples(st.integers(1, 9999), st.integers(1, 12), st.integers(28, 31)).map(
            lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
        ),
        st.sampled_from(["0000-01-01", "2024-02-29", "2023-02-29", "9999-12-31"]),
    )


def datetimes() -> st.SearchStrategy[str]:
    offsets = st.sampled_from(["Z", "+00:00", "+14:00", "-12:00", "+05:30", "-00:00", ""])
    times = st.sampled_from(["00:00:00", "23:59:59", "12:30", "10:00:00.1234567", "24:00:00"])
    return st.tuples(dates(), times, offsets).map(lambda t: f"{t[0]}T{t[1]}{t[2]}")


def guids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.uuids().map(str),
        st.uuids().map(lambda u: f"guid'{u}'"),
        st.sampled_from(["5a1e5000-0000-4000-8000-000000001896", "00000000-0000-0000-0000-000000000000"]),
    )


LITERALS: dict[str, st.SearchStrategy[str]] = {
    "string": strings(),
    "number": numbers(),
    "boolean": st.sampled_from(["true", "false"]),
    "guid": guids(),
    "date": dates(),
    "datetime": datetimes(),
}


def expressions(entity_set: edm.EntitySet) -> st.SearchStrategy[str]:
    """Conditions over the set's properties."""
    by_kind: dict[str, list[str]] = {}
    for prop in entity_set.properties:
        by_kind.setdefault(KINDS[prop.type], []).append(prop.name)

    def operand(kind: str, depth: int) -> st.SearchStrategy[str]:
        options = [LITERALS[kind]]
        if by_kind.get(kind):
            options.append(st.sampled_from(by_kind[kind]))
            options.append(st.sampled_from(by_kind[kind]))  # properties twice as often
        if depth > 0 and kind == "number":
            inner = operand("number", depth - 1)
            options.append(
                st.tuples(inner, st.sampled_from(ARITHMETIC), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
            )
            options.append(inner.map(lambda x: f"-{x}"))
            options.append(
                st.tuples(st.sampled_from(["round", "floor", "ceiling"]), inner).map(lambda t: f"{t[0]}({t[1]})")
            )
            text = operand("string", depth - 1)
            options.append(text.map(lambda s: f"length({s})"))
            options.append(st.tuples(text, text).map(lambda t: f"indexof({t[0]},{t[1]})"))
            when = operand("date", depth - 1) | operand("datetime", depth - 1)
            options.append(st.tuples(st.sampled_from(["year", "month", "day"]), when).map(lambda t: f"{t[0]}({t[1]})"))
        if depth > 0 and kind == "string":
            inner = operand("string", depth - 1)
            num = operand("number", depth - 1)
            options.append(
                st.tuples(st.sampled_from(["tolower", "toupper", "trim"]), inner).map(lambda t: f"{t[0]}({t[1]})")
            )
            options.append(st.tuples(inner, inner).map(lambda t: f"concat({t[0]},{t[1]})"))
            options.append(st.tuples(inner, num).map(lambda t: f"substring({t[0]},{t[1]})"))
            options.append(st.tuples(inner, num, num).map(lambda t: f"substring({t[0]},{t[1]},{t[2]})"))
        if depth > 0 and kind == "date" and by_kind.get("datetime"):
            options.append(st.sampled_from(by_kind["datetime"]).map(lambda p: f"date({p})"))
        return st.one_of(*options)

    def comparison(depth: int) -> st.SearchStrategy[str]:
        kinds = sorted(set(LITERALS) & (set(by_kind) | {"number", "string"}))

        @st.composite
        def build(draw: st.DrawFn) -> str:
            kind = draw(st.sampled_from(kinds))
            left = draw(operand(kind, depth))
            # Now and then a value of another type: a type error, the same on both databases.
            other = draw(st.sampled_from(sorted(LITERALS))) if draw(st.integers(0, 9)) == 0 else kind
            op = draw(st.sampled_from(COMPARE))
            if draw(st.integers(0, 9)) == 0:
                values = draw(st.lists(LITERALS[other], min_size=1, max_size=4))
                return f"{left} in ({','.join(values)})"
            right = "null" if draw(st.integers(0, 19)) == 0 else draw(operand(other, depth))
            return f"{left} {op} {right}"

        return build()

    def condition(depth: int) -> st.SearchStrategy[str]:
        options = [comparison(min(depth, 1))]
        if by_kind.get("boolean"):
            options.append(st.sampled_from(by_kind["boolean"]))
        strings_ = operand("string", 1)
        options.append(
            st.tuples(st.sampled_from(["contains", "startswith", "endswith", "substringof"]), strings_, strings_).map(
                lambda t: f"{t[0]}({t[1]},{t[2]})"
            )
        )
        if depth > 0:
            inner = condition(depth - 1)
            options.append(inner.map(lambda c: f"not ({c})"))
            options.append(
                st.tuples(st.lists(inner, min_size=2, max_size=3), st.sampled_from([" and ", " or "])).map(
                    lambda t: "(" + t[1].join(t[0]) + ")"
                )
            )
        return st.one_of(*options)

    return condition(2)


@st.composite
def mangled(draw: st.DrawFn, text: str) -> str:
    """The text with a few characters deleted, doubled or replaced: syntax errors of all kinds."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 3))):
        if not chars:
            break
        at = draw(st.integers(0, len(chars) - 1))
        how = draw(st.sampled_from(["delete", "insert", "replace"]))
        if how == "delete":
            del chars[at]
        else:
            new = draw(st.sampled_from([*list("()',-@$: "), "eq", " or ", "9" * 25, "\x00"]))
            if how == "insert":
                chars.insert(at, new)
            else:
                chars[at] = new
    return "".join(chars)


def cases(sets: list[edm.EntitySet]) -> st.SearchStrategy[Case]:
    # Built once per set: building the strategy tree per example costs more than the requests.
    per_set = {s.name: expressions(s) for s in sets}

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        entity_set = draw(st.sampled_from(sets))
        text = draw(per_set[entity_set.name])
        how = draw(st.integers(0, 9))
        if how == 0:
            return Case(entity_set.name, draw(mangled(text)))
        if how == 1:
            # An alias in place of a literal: one literal, or something that is not one.
            value = draw(st.one_of(*LITERALS.values(), st.just("'x' or 1 eq 1"), st.just("1) or (1 eq 1")))
            return Case(entity_set.name, f"{text} or @p eq @p", (("@p", value),))
        return Case(entity_set.name, text)

    return build()
