"""Sales note HTML -> the plain text BC keeps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.notes_text import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # What the Sales rich-text editor stores: a wrapper div, one div per line.
        (
            '<div data-wrapper="true" style="font-size:9pt"><div>Use the <b>back</b>&nbsp;entrance &amp; ring.'
            "</div><div>Ask for Nancy.</div></div>",
            "Use the back entrance & ring.\nAsk for Nancy.",
        ),
        ("<p>first</p><p>second</p>", "first\n\nsecond"),
        ("one<br>two<br/>three<br />four", "one\ntwo\nthree\nfour"),
        ("<ul><li>apples</li><li>pears <i>ripe</i></li></ul>", "- apples\n- pears ripe"),
        ("<ol><li>a</li></ol><div>after</div>", "- a\nafter"),
        ("<h1>Title</h1>body", "Title\nbody"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("<div>  lots   of\n\t spaces  </div>", "lots of spaces"),
        ("<span>a</span> <span>b</span>", "a b"),
        ("<pre>  keep\n    indent</pre>", "  keep\n    indent"),
        ("<style>p{color:red}</style><script>alert(1)</script><div>shown</div>", "shown"),
        ("&lt;not a tag&gt; &quot;q&quot; &#233;&#x20AC;", '<not a tag> "q" é€'),
        ("<div></div><div><br></div><div>x</div><div><br></div><div><br></div><div>y</div><div><br></div>", "x\n\ny"),
        ("<div>unclosed <b>bold", "unclosed bold"),
        ("<!-- comment --><div>text</div>", "text"),
    ],
)
def test_html_becomes_plain_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("plain", "text"),
    [
        ("Plain text note\r\nsecond line", "Plain text note\nsecond line"),
        ("line one  \n\n\nline two\n\n", "line one\n\n\nline two"),
        ("\n\n  indented stays", "  indented stays"),
        ("1 < 2 and 3 > 2 & so on", "1 < 2 and 3 > 2 & so on"),
        ("old\rmac", "old\nmac"),
        ("AT&T &amp; R&D&nbsp;Ltd &#233;t&eacute;", "AT&T & R&D Ltd été"),
    ],
)
def test_plain_text_is_kept(plain: str, text: str) -> None:
    assert html_to_text(plain) == text


@pytest.mark.parametrize("empty", [None, "", "<div></div>", "<div><br></div>", "   "])
def test_empty(empty: str | None) -> None:
    assert html_to_text(empty) == ""


@given(st.text())
def test_any_text_gives_tidy_lines(text: str) -> None:
    result = html_to_text(text)
    assert "\r" not in result
    assert result == result.strip("\n")
    assert all(line == line.rstrip() for line in result.split("\n"))


@given(st.lists(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20), min_size=1))
def test_div_per_line_round_trips(lines: list[str]) -> None:
    html = "".join(f"<div>{line}</div>" for line in lines)
    assert html_to_text(html) == "\n".join(lines)
