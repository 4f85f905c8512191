"""Text from feeds and pages made safe to print on a terminal.

Titles, outlets, authors, URLs, passages and error messages come from feeds and pages
that anyone can write. Printed as they are, an escape sequence in one of them clears
the screen (``ESC[2J``), retitles the window (``ESC]0;…``) or plants a hyperlink
(``ESC]8;;…``), and a ``[/]`` in one of them is Rich markup that stops the command
with a MarkupError. ``plain_text`` removes control sequences and control characters
(newlines and tabs stay); ``markup_text`` also escapes Rich markup, for strings that
Rich reads as markup (table cells and titles, progress descriptions, ``print``).

Pure functions; the data itself is never changed (the database, exports and alerts
keep every character).
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI (ESC [ or its 8-bit form): parameters, intermediates, final
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM,
    # APC: a string up to BEL or ST (an unterminated one up to the end of its line)
    r"|\x1b[ -/]*[0-~]?"  # any other escape: intermediates and a final byte
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # every other C0 control but tab and newline, DEL, C1
)


def plain_text(text: str) -> str:
    """``text`` without terminal control sequences and control characters but ``\\n``
    and ``\\t``."""
    return _CONTROL.sub("", text)


def markup_text(text: str) -> str:
    """``text`` as plain text that Rich prints as it is, never as markup."""
    return escape(plain_text(text))
