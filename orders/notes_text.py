"""Plain text from a Sales note's ``notetext``, which the Sales rich-text editor stores as HTML.

BC keeps notes as plain text ("Record Link" notes), so the HTML is flattened the way a reader
would see it:

- block elements (``p``, ``div``, headings, ``li``, ``tr``, ``blockquote``, ...) and ``<br>`` end a
  line; a list item starts with ``"- "``; table cells are separated by a space;
- entities are unescaped (``&amp;`` -> ``&``, ``&nbsp;`` -> a space);
- whitespace inside the HTML is collapsed as a browser would (runs of spaces, tabs and newlines
  become one space), except inside ``<pre>``;
- lines are stripped of trailing spaces, runs of blank lines become one, and leading and trailing
  blank lines are dropped;
- ``script``, ``style``, ``head`` and ``title`` contents are dropped.

A note without any HTML tag (older notes, notes written through the API) is plain text already:
its line breaks are kept (normalised to ``\\n``), complete entity references (``&amp;``, ``&#233;``)
are unescaped, and trailing spaces and outer blank lines are removed.
(BC's own ``ExtractNoteText`` likewise leaves a note without HTML blocks as it is.)
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9:-]*(\s[^<>]*)?/?\s*>|<!--")
# Only complete references (with the ";"): "AT&T" or "R&D" in a plain note stay as they are.
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
_SKIP = frozenset({"script", "style", "head", "title"})
_CELL = frozenset({"td", "th"})


class _Flattener(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0

    def _break(self) -> None:
        self.lines.append("".join(self.current))
        self.current = []

    def _end_block(self) -> None:
        # A block ends the current line, but an empty line is not opened for every nested block.
        if self.current:
            self._break()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag == "br":
            self._break()
        elif tag in _BLOCK:
            self._end_block()
            if tag == "li":
                self.current.append("- ")
            elif tag == "pre":
                self.pre_depth += 1
        elif tag in _CELL and self.current:
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <hr/>: a break; other self-closing tags carry no text.
        if tag == "br":
            self._break()
        elif tag in _BLOCK:
            self._end_block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag in _BLOCK:
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
            if tag == "p" and self.current:
                # A paragraph is followed by a blank line, as it is displayed.
                self._break()
                self.lines.append("")
            else:
                self._end_block()

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            parts = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._break()
                self.current.append(part)
            return
        text = _HTML_SPACE.sub(" ", data.replace("\xa0", " "))
        # Collapse across adjacent text pieces too ("a <b> b</b>" has one space, not two).
        if text.startswith(" ") and (not self.current or self.current[-1].endswith(" ")):
            text = text[1:]
        if text:
            self.current.append(text)

    def result(self) -> str:
        self._end_block()
        return _tidy([line.replace("\xa0", " ") for line in self.lines])


def _tidy(lines: list[str], *, single_blank_lines: bool = True) -> str:
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or (single_blank_lines and not out[-1])):
            continue  # no leading blank lines, and (in HTML) no runs of them
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def html_to_text(notetext: str | None) -> str:
    """The note's text as BC shows it: plain, lines separated by ``\\n``."""
    if not notetext:
        return ""
    if not _TAG.search(notetext):
        plain = notetext.replace("\r\n", "\n").replace("\r", "\n")
        plain = _ENTITY.sub(lambda m: html.unescape(m.group()).replace("\xa0", " "), plain)
        return _tidy(plain.split("\n"), single_blank_lines=False)
    parser = _Flattener()
    parser.feed(notetext)
    parser.close()
    return parser.result()
