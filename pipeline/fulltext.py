"""Full-text analysis: the terms an article is indexed under and the terms a query asks for.

One analyzer serves both databases, so a query finds the same articles on SQLite (FTS5)
and PostgreSQL (tsvector + GIN): text is NFKC-normalized, split into runs of letters and
digits, case-folded, stemmed with the Snowball stemmer of the article's language where
there is one (English, German, French, Russian and a dozen more; Ukrainian and other
languages are indexed unstemmed — PostgreSQL's ``simple``), and stripped of Latin
diacritics. The databases only store and match the terms; neither re-tokenizes them.

A query word is looked up as written and under its stem in each stemmed language the
articles are in (or the one the search is limited to), so ``Gespräche`` finds German articles and
``talks`` English ones. Query syntax: words (all must match), ``"exact phrase"``,
``OR``, ``-word`` or ``NOT word`` to exclude, ``word*`` for a prefix, parentheses. A
query is at most ``MAX_QUERY_CHARS`` long and nests parentheses at most
``MAX_QUERY_DEPTH`` deep: both databases' query parsers have a stack of their own (FTS5
gave up at about a hundred levels), and neither limit is near a query people write.

Pure functions; nothing here touches a database.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import Stemmer

from pipeline.errors import SearchQueryError

SNOWBALL = {  # languages whose Snowball stemmer keeps to its own script and vocabulary
    "ar": "arabic", "da": "danish", "de": "german", "en": "english", "es": "spanish",
    "fi": "finnish", "fr": "french", "it": "italian", "nl": "dutch", "no": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
}
MAX_BODY_TERMS = 16_000  # PostgreSQL keeps word positions up to 16,383; both databases index this much
MAX_TERM_CHARS = 100  # longer "words" (base64, run-together junk) are not indexed: no one searches them,
# and PostgreSQL refuses a lexeme of 2 KB or more
MAX_DISTINCT_BYTES = 512 * 1024  # a tsvector must stay under 1 MiB: distinct terms past this are not indexed
LEAD_TERMS = 60  # PostgreSQL ranks by the title and the lead (a vector small enough to stay in the row)
MAX_PHRASE_VARIANTS = 64
MAX_QUERY_CHARS = 500
MAX_QUERY_DEPTH = 10
_WORD = re.compile(r"[^\W_]+")
_QUERY_TOKEN = re.compile(r'-?"[^"]*"?|-?\(|\)|-?[^\s()"]+')
_SPACES = re.compile(r"\s+")
SNIPPET_WORDS = (12, 28)  # words shown before and after the first hit


@dataclass(frozen=True)
class IndexedText:
    """An article's index entry: its terms in text order. SQLite's FTS5 takes them as
    text; PostgreSQL takes them as tsvector literals (title weighted A, body D): all of
    them for matching, the title and the lead for ranking, made only when asked for."""

    title: tuple[str, ...]
    body: tuple[str, ...]

    @property
    def title_terms(self) -> str:
        return " ".join(self.title)

    @property
    def body_terms(self) -> str:
        return " ".join(self.body)

    def tsvector(self) -> str:
        return _tsvector(self.title, self.body)

    def lead_tsvector(self) -> str:
        return _tsvector(self.title, self.body[:LEAD_TERMS])


def index_text(title: str, text: str, language: str) -> IndexedText:
    """The terms an article is indexed under, bounded so that both databases can store
    every one of them (the same on SQLite and PostgreSQL)."""
    title_terms = _storable(analyze(title, language)[:256], MAX_DISTINCT_BYTES)
    budget = MAX_DISTINCT_BYTES - sum(len(term.encode()) for term in set(title_terms))
    return IndexedText(title_terms, _storable(analyze(text, language)[:MAX_BODY_TERMS], budget))


def _storable(terms: list[str], budget: int) -> tuple[str, ...]:
    """``terms`` without over-long ones, stopping before the distinct terms pass ``budget`` bytes."""
    kept: list[str] = []
    seen: set[str] = set()
    for term in terms:
        if len(term) > MAX_TERM_CHARS:
            continue
        if term not in seen:
            budget -= len(term.encode())
            if budget < 0:
                break
            seen.add(term)
        kept.append(term)
    return tuple(kept)


def analyze(text: str, language: str) -> list[str]:
    terms = _terms(SNOWBALL.get(language))
    return [terms(word) for word in _words(text)]


@functools.lru_cache(maxsize=None)
def _terms(algorithm: str | None):
    """word → term for one stemmer, remembered (news vocabulary repeats itself)."""
    stem, known = _stemmer(algorithm), dict[str, str]()

    def term(word: str) -> str:
        found = known.get(word)
        if found is None:
            found = known[word] = _fold(stem(word))
            if len(known) > 500_000:
                known.clear()
        return found

    return term


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _stemmer(algorithm: str | None):
    return (lambda word: word) if algorithm is None else Stemmer.Stemmer(algorithm).stemWord


def _fold(term: str) -> str:
    """Drop the diacritics of Latin letters (é → e, ü → u); other scripts are kept as they
    are (й must not become и)."""
    if term.isascii():
        return term
    decomposed = unicodedata.normalize("NFD", term)
    kept = [c for i, c in enumerate(decomposed)
            if not (unicodedata.combining(c) and i and decomposed[i - 1].isascii())]
    return unicodedata.normalize("NFC", "".join(kept))


def _tsvector(title: Sequence[str], body: Sequence[str]) -> str:
    """Positions as PostgreSQL counts them; the body starts two past the title, so no
    phrase spans the two (as in FTS5, where they are separate columns)."""
    positions: dict[str, list[str]] = {}
    for position, term in enumerate(title, start=1):
        positions.setdefault(term, []).append(f"{position}A")
    start = len(title) + 2
    for position, term in enumerate(body, start=start):
        places = positions.get(term)
        if places is None:
            positions[term] = [str(position)]
        elif len(places) < 256:  # PostgreSQL keeps 256 positions of a word
            places.append(str(position))  # at most 16,257: the title and body caps keep within 16,383
    return " ".join(f"'{term}':{','.join(places)}" for term, places in positions.items())


# --- queries -------------------------------------------------------------------------

@dataclass(frozen=True)
class Word:
    forms: tuple[str, ...]  # the terms any of which matches
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Not:
    node: "Node"


@dataclass(frozen=True)
class All:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Any:
    nodes: tuple["Node", ...]


Node = Word | Phrase | Not | All | Any


def parse_query(query: str, languages: Iterable[str]) -> Node:
    """The query as a tree of terms, each word in its forms for ``languages`` (the
    languages searched). Raises SearchQueryError naming what is wrong."""
    if len(query) > MAX_QUERY_CHARS:
        raise SearchQueryError(query, f"the query is {len(query)} characters long; at most {MAX_QUERY_CHARS}")
    tokens = _QUERY_TOKEN.findall(query)
    if not tokens:
        raise SearchQueryError(query, "the query has no words")
    parser = _Parser(query, tokens, languages)
    node = parser.parse_any()
    if parser.position < len(tokens):
        raise SearchQueryError(query, f"unexpected {tokens[parser.position]!r}")
    _check_positive(query, node)
    return node


class _Parser:
    def __init__(self, query: str, tokens: list[str], languages: Iterable[str]) -> None:
        self.query, self.tokens, self.position, self.depth = query, tokens, 0, 0
        self.stemmed = [_terms(a) for a in sorted({SNOWBALL[l] for l in languages if l in SNOWBALL})]

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def parse_any(self) -> Node:
        nodes = [self.parse_all()]
        while self.peek() == "OR":
            self.position += 1
            nodes.append(self.parse_all())
        return nodes[0] if len(nodes) == 1 else Any(tuple(nodes))

    def parse_all(self) -> Node:
        nodes: list[Node] = []
        while self.peek() not in (None, ")", "OR"):
            node = self.parse_unit()
            if node is not None:
                nodes.append(node)
        if not nodes:
            raise SearchQueryError(self.query, "an OR or a parenthesis has nothing on one side")
        return nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def parse_unit(self) -> Node | None:
        token = self.tokens[self.position]
        self.position += 1
        if token == "(":
            return self.parse_group()
        if token == "NOT" or (token.startswith("-") and len(token) > 1):
            if token != "NOT":
                self.tokens.insert(self.position, token[1:])
            if self.peek() in (None, ")", "OR"):
                raise SearchQueryError(self.query, "NOT has nothing to exclude")
            inner = self.parse_unit()
            if isinstance(inner, Not):
                raise SearchQueryError(self.query, "a double negation excludes nothing")
            return None if inner is None else Not(inner)
        if token.startswith('"'):
            if len(token) == 1 or not token.endswith('"'):
                raise SearchQueryError(self.query, "a quotation mark is not closed")
            words = [self.word(w, False) for w in _words(token)]
            return None if not words else words[0] if len(words) == 1 else Phrase(tuple(words))
        return self.words(token)

    def parse_group(self) -> Node:
        self.depth += 1
        if self.depth > MAX_QUERY_DEPTH:
            raise SearchQueryError(self.query, f"parentheses nest more than {MAX_QUERY_DEPTH} deep")
        node = self.parse_any()
        if self.peek() != ")":
            raise SearchQueryError(self.query, "a parenthesis is not closed")
        self.position += 1
        self.depth -= 1
        return node

    def words(self, token: str) -> Node | None:
        prefix = token.endswith("*")
        words = _words(token)
        if not words:
            return None  # punctuation only
        nodes = [self.word(w, prefix and i == len(words) - 1) for i, w in enumerate(words)]
        return nodes[0] if len(nodes) == 1 else Phrase(tuple(nodes))  # "Trump-Putin" as a phrase

    def word(self, word: str, prefix: bool) -> Word:
        if prefix:
            return Word((_fold(word),), prefix=True)
        forms = {_fold(word)} | {term(word) for term in self.stemmed}
        return Word(tuple(sorted(forms)))


def _check_positive(query: str, node: Node) -> None:
    """FTS5 and tsquery both need something to match before they can exclude."""
    if isinstance(node, Not):
        raise SearchQueryError(query, "the query only excludes; add a word that must match")
    if isinstance(node, (All, Any)):
        children = node.nodes
        if isinstance(node, All) and all(isinstance(c, Not) for c in children):
            raise SearchQueryError(query, "the query only excludes; add a word that must match")
        for child in children:
            if isinstance(node, Any) or not isinstance(child, Not):
                _check_positive(query, child)


@dataclass(frozen=True)
class _Syntax:
    """How one database spells a query."""

    term: str  # a format with {term}
    phrase_term: str  # the same inside a phrase
    phrase: tuple[str, str, str]  # opening, between the terms, closing
    prefix: str  # after a prefix term, or after a phrase whose last word is one
    prefix_inside: bool  # a phrase's prefix mark goes before its closing mark
    any: str
    all: str
    binary_not: bool  # FTS5: "(must AND must) NOT excluded"; tsquery: "must & !excluded"

    def render(self, node: Node) -> str:
        if isinstance(node, Word):
            return self.either([self.term.format(term=f) + (self.prefix if node.prefix else "") for f in node.forms])
        if isinstance(node, Phrase):
            return self.either([self.render_phrase(variant, node.words[-1].prefix) for variant in
                                itertools.islice(itertools.product(*(w.forms for w in node.words)),
                                                 MAX_PHRASE_VARIANTS)])
        if isinstance(node, Any):
            return "(" + self.any.join(self.render(n) for n in node.nodes) + ")"
        if isinstance(node, All):
            return self.render_all(node)
        raise SearchQueryError("", "NOT outside a group")  # excluded by _check_positive

    def render_phrase(self, terms: tuple[str, ...], prefix: bool) -> str:
        opening, between, closing = self.phrase
        end = self.prefix if prefix else ""
        inner = between.join(self.phrase_term.format(term=t) for t in terms)
        return opening + inner + (end + closing if self.prefix_inside else closing + end)

    def render_all(self, node: All) -> str:
        if self.binary_not:
            positive = [self.render(n) for n in node.nodes if not isinstance(n, Not)]
            negative = [self.render(n.node) for n in node.nodes if isinstance(n, Not)]
            return "(" + self.all.join(positive) + ")" + "".join(f" NOT {n}" for n in negative)
        return "(" + self.all.join("!" + self.render(n.node) if isinstance(n, Not) else self.render(n)
                                   for n in node.nodes) + ")"

    def either(self, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + self.any.join(parts) + ")"


_FTS5 = _Syntax(term='"{term}"', phrase_term="{term}", phrase=('"', " ", '"'), prefix="*", prefix_inside=False,
                any=" OR ", all=" AND ", binary_not=True)
_TSQUERY = _Syntax(term="'{term}'", phrase_term="'{term}'", phrase=("(", " <-> ", ")"), prefix=":*",
                   prefix_inside=True, any=" | ", all=" & ", binary_not=False)


def to_fts5(node: Node) -> str:
    """The query in FTS5's MATCH syntax."""
    return _FTS5.render(node)


def to_tsquery(node: Node) -> str:
    """The same query as a PostgreSQL tsquery literal (cast, not parsed again)."""
    return _TSQUERY.render(node)


def wanted_terms(node: Node) -> set[str]:
    """The terms that make an article a hit (for snippets): every form of every word
    that is not excluded (a prefix as ``prefix*``)."""
    if isinstance(node, Word):
        return {form + "*" for form in node.forms} if node.prefix else set(node.forms)
    if isinstance(node, Phrase):
        return set().union(*(wanted_terms(w) for w in node.words))
    if isinstance(node, Not):
        return set()
    return set().union(*(wanted_terms(n) for n in node.nodes))


@dataclass(frozen=True)
class Passage:
    """A plain-text passage of an article, and the character ranges ``[start, end)`` of
    its words that matched the query (for the reader's eye; the text itself is not marked)."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()

    def pieces(self) -> list[tuple[str, bool]]:
        """The text in pieces, each saying whether it is marked (ranges out of order,
        overlapping or out of the text are left unmarked)."""
        pieces, at = [], 0
        for start, end in sorted(self.marks):
            if at <= start < end <= len(self.text):
                pieces += [(self.text[at:start], False), (self.text[start:end], True)]
                at = end
        return [piece for piece in [*pieces, (self.text[at:], False)] if piece[0]]


def snippet(text: str, language: str, terms: set[str]) -> str:
    """A plain-text passage of ``text`` around its first word indexed under one of
    ``terms`` (the text's start when none is found)."""
    return passage(text, language, terms).text


def passage(text: str, language: str, terms: set[str]) -> Passage:
    """As ``snippet``, with the words of the passage indexed under one of ``terms`` marked."""
    term = _terms(SNOWBALL.get(language))
    matches = list(_WORD.finditer(text))
    if not matches:
        return Passage("")
    prefixes = tuple(t[:-1] for t in terms if t.endswith("*"))
    is_hit = lambda match: any(term(w) in terms or (prefixes and term(w).startswith(prefixes))  # noqa: E731
                               for w in _words(match.group()))
    first = next((i for i, m in enumerate(matches) if is_hit(m)), 0)
    before, after = SNIPPET_WORDS
    start, end = max(0, first - before), min(len(matches), first + after)
    pieces, marks, at = ["… " if start else ""], [], 2 if start else 0
    for index in range(start, end):
        if index > start:  # what lies between two words, its white space run together
            gap = _SPACES.sub(" ", text[matches[index - 1].end():matches[index].start()])
            pieces.append(gap)
            at += len(gap)
        word = matches[index].group()
        if terms and is_hit(matches[index]):
            marks.append((at, at + len(word)))
        pieces.append(word)
        at += len(word)
    pieces.append(" …" if end < len(matches) else "")
    return Passage("".join(pieces), tuple(marks))
