"""Version diffs: paragraphs matched, a changed paragraph compared word by word."""

from __future__ import annotations

import pytest

from pipeline.web.diffs import diff_texts


def shown(paragraphs) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(p.kind, [(s.kind, s.text) for s in p.segments]) for p in paragraphs]


@pytest.mark.parametrize("old, new, expected", [
    ("One.\n\nTwo.", "One.\n\nTwo.", [("same", [("same", "One.")]), ("same", [("same", "Two.")])]),
    ("One.", "One.\n\nTwo.", [("same", [("same", "One.")]), ("ins", [("ins", "Two.")])]),
    ("One.\n\nTwo.", "Two.", [("del", [("del", "One.")]), ("same", [("same", "Two.")])]),
    ("Troops may go.", "Troops will go.",
     [("changed", [("same", "Troops "), ("del", "may "), ("ins", "will "), ("same", "go.")])]),
    ("It is homework, he said.", "Ministers were briefed today.",  # too unlike for a word diff
     [("del", [("del", "It is homework, he said.")]), ("ins", [("ins", "Ministers were briefed today.")])]),
    ("A b.\nC d.", "X y.", [("del", [("del", "A b.")]), ("del", [("del", "C d.")]), ("ins", [("ins", "X y.")])]),
    ("", "", []),
])
def test_diffs(old, new, expected):
    assert shown(diff_texts(old, new)) == expected


def test_markup_in_text_stays_text():
    [paragraph] = diff_texts("Said <b>old</b> today", "Said <b>new</b> today")
    assert "".join(s.text for s in paragraph.segments if s.kind != "ins") == "Said <b>old</b> today"
