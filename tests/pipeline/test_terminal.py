"""Text from the internet on a terminal: control sequences removed, Rich markup shown as text."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.table import Table

from pipeline.terminal import markup_text, plain_text


@pytest.mark.parametrize("given, shown", [
    ("plain title", "plain title"),
    ("clear \x1b[2Jscreen", "clear screen"),
    ("colour \x1b[31;1mred\x1b[0m", "colour red"),
    ("title \x1b]0;pwned\x07set", "title set"),
    ("link \x1b]8;;http://x\x1b\\here\x1b]8;;\x1b\\", "link here"),
    ("an OSC never ended \x1b]0;swallowed\nnext line", "an OSC never ended \nnext line"),
    ("8-bit \x9b2J CSI and \x9d0;t\x9c OSC", "8-bit  CSI and  OSC"),
    ("device \x1bP1$r\x1b\\ string", "device  string"),
    ("keypad \x1b= and reset \x1bc", "keypad  and reset "),
    ("bell\x07 backspace\x08 cr\r nul\x00 del\x7f", "bell backspace cr nul del"),
    ("a lone ESC at the end \x1b", "a lone ESC at the end "),
    ("paragraphs\n\nand\ttabs stay", "paragraphs\n\nand\ttabs stay"),
    ("Гипфель · Gipfel – «sommet»", "Гипфель · Gipfel – «sommet»"),
])
def test_plain_text_removes_what_a_terminal_would_obey(given, shown):
    assert plain_text(given) == shown


@pytest.mark.parametrize("title", ["Alaska [/] summit", "[bold]loud[/bold]", "[link=http://x]click[/link]",
                                   "ends in a backslash \\", "[copy of 12] [v2]", "\\[escaped]"])
def test_markup_text_is_printed_as_it_is_written(title):
    console = Console(width=200, record=True, color_system=None)
    table = Table(title=markup_text(title))
    table.add_column("title")
    table.add_row(markup_text(title))
    console.print(table)
    console.print(f"[red]error:[/red] {markup_text(title)}")
    shown = console.export_text()
    assert shown.count(title) == 3
