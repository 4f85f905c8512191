"""What changed between two versions of an article's text, paragraph by paragraph.

Paragraphs are matched first (difflib); a paragraph replaced by one much like it is
compared word by word, so a changed sentence shows as a few struck and inserted words
rather than a whole paragraph twice. The result is plain data (text stays text): the
templates render it as ``<del>``/``<ins>`` with escaping on.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from pipeline.web.schemas import DiffParagraph, DiffSegment

_WORDS = re.compile(r"\s*\S+\s*")  # a word with the spaces around it
MIN_WORD_SIMILARITY = 0.4  # below this, a "changed" paragraph reads better as removed + added


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def diff_texts(old: str, new: str) -> list[DiffParagraph]:
    """``new`` against ``old``: unchanged, changed (word level), inserted and deleted paragraphs."""
    before, after = split_paragraphs(old), split_paragraphs(new)
    paragraphs: list[DiffParagraph] = []
    matcher = SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            paragraphs += [_whole("same", p) for p in before[i1:i2]]
        elif tag == "replace" and i2 - i1 == j2 - j1:
            paragraphs += [paragraph for a, b in zip(before[i1:i2], after[j1:j2]) for paragraph in _replaced(a, b)]
        else:
            paragraphs += [_whole("del", p) for p in before[i1:i2]]
            paragraphs += [_whole("ins", p) for p in after[j1:j2]]
    return paragraphs


def _replaced(old: str, new: str) -> list[DiffParagraph]:
    """A paragraph and its replacement: word by word when they are alike, else whole."""
    before, after = _WORDS.findall(old), _WORDS.findall(new)
    if SequenceMatcher(a=[w.strip() for w in before], b=[w.strip() for w in after],
                       autojunk=False).ratio() < MIN_WORD_SIMILARITY:
        return [_whole("del", old), _whole("ins", new)]
    return [diff_words(old, new)]


def diff_words(old: str, new: str) -> DiffParagraph:
    """One paragraph against its replacement, word by word (whitespace kept as it was)."""
    before, after = _WORDS.findall(old), _WORDS.findall(new)
    segments: list[DiffSegment] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=[w.strip() for w in before], b=[w.strip() for w in after],
                                               autojunk=False).get_opcodes():
        if tag == "equal":
            _append(segments, "same", "".join(before[i1:i2]))
            continue
        _append(segments, "del", "".join(before[i1:i2]))
        _append(segments, "ins", "".join(after[j1:j2]))
    return DiffParagraph(kind="changed", segments=segments)


def _whole(kind: str, text: str) -> DiffParagraph:
    return DiffParagraph(kind=kind, segments=[DiffSegment(kind=kind, text=text)])


def _append(segments: list[DiffSegment], kind: str, text: str) -> None:
    if not text:
        return
    if segments and segments[-1].kind == kind:
        segments[-1] = DiffSegment(kind=kind, text=segments[-1].text + text)
    else:
        segments.append(DiffSegment(kind=kind, text=text))
