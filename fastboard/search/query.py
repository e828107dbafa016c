"""What a search string asks for, read the way ``websearch_to_tsquery`` reads it, and the
highlighted snippet of a result. Pure functions: no database, no FastAPI."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_QUERY_LENGTH = 200
# The FTS5 trigram tokenizer indexes runs of three characters: shorter terms are matched
# with LIKE instead.
TRIGRAM = 3
SNIPPET_LENGTH = 160

# A quoted phrase (an unclosed quote runs to the end, as in websearch_to_tsquery), or a
# run of anything but spaces and quotes; either may carry a leading "-".
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
# NUL and the other control characters: PostgreSQL refuses NUL in text, and none of
# them is anything a reader searches for.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"\w")
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search string as both databases run it.

    ``text`` goes to ``websearch_to_tsquery`` as it is (PostgreSQL); ``include`` and
    ``exclude`` are the terms (words, or phrases as one term) matched as substrings of
    the text, case-insensitively: a result holds every included term (any one of them
    when ``any_of``: the string used OR) and none of the excluded ones.
    """

    text: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    any_of: bool

    @property
    def empty(self) -> bool:
        return not self.include

    @property
    def long_terms(self) -> tuple[str, ...]:
        """Included terms the trigram index can look up."""
        return tuple(term for term in self.include if len(term) >= TRIGRAM)

    @property
    def short_terms(self) -> tuple[str, ...]:
        return tuple(term for term in self.include if len(term) < TRIGRAM)


def parse(raw: str) -> SearchQuery:
    """Read ``raw`` as websearch syntax: ``"exact phrase"``, ``-excluded``, ``OR``.

    Terms with no letter or digit (punctuation alone) are dropped; a string left with no
    included term asks for nothing (``empty``)."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", raw)).strip()
    include: list[str] = []
    exclude: list[str] = []
    any_of = False
    for match in _TOKEN.finditer(text):
        negated, phrase, word_negated, word = match.groups()
        if word is not None and word.lower() == "or":
            any_of = True
            continue
        term = phrase.strip() if phrase is not None else _EDGE_PUNCTUATION.sub("", word)
        if not _WORD.search(term):
            continue
        bucket = exclude if (negated or word_negated) else include
        folded = term.lower()
        if folded not in bucket:
            bucket.append(folded)
    return SearchQuery(text, tuple(include), tuple(exclude), any_of and len(include) > 1)


def like_pattern(term: str) -> str:
    """``term`` anywhere, as a LIKE pattern whose escape character is a backslash."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def caseless(term: str) -> bool:
    """Whether ``term`` reads the same in upper and lower case (Korean, digits): LIKE
    finds it as ILIKE would, without lowercasing the text it searches."""
    return term.upper() == term.lower()


def fts5_phrase(term: str) -> str:
    """``term`` as an FTS5 string: matched as it is, whatever characters it holds."""
    return '"' + term.replace('"', '""') + '"'


def highlight_terms(query: SearchQuery) -> tuple[str, ...]:
    """What to mark: the included terms, and the words of phrases (a phrase PostgreSQL
    matched across punctuation is not found as it was written)."""
    terms = list(query.include)
    for term in query.include:
        terms += [word for word in term.split(" ") if _WORD.search(word)]
    return tuple(dict.fromkeys(terms))


def highlight(texts: Sequence[str], terms: Sequence[str], length: int = SNIPPET_LENGTH) -> str:
    """A snippet of about ``length`` characters from the first of ``texts`` that holds a
    term (else from the first that is not empty), every term in it wrapped in
    ``<mark>``, everything else HTML-escaped: safe to insert as HTML."""
    pattern = _terms_pattern(terms)
    chosen, start = next((text for text in texts if text), ""), 0
    for text in texts:
        found = pattern.search(text) if pattern is not None else None
        if found is not None:
            chosen = text
            # Some context before the first match, most of the snippet after it.
            start = max(0, found.start() - length // 4)
            break
    window = chosen[start : start + length]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + length < len(chosen) else ""
    return prefix + _marked(_SPACES.sub(" ", window), pattern) + suffix


def _terms_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first: a phrase is marked whole, not as its first word.
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(re.escape(term) for term in ordered), re.IGNORECASE)


def _marked(text: str, pattern: re.Pattern[str] | None) -> str:
    if pattern is None:
        return html.escape(text)
    pieces: list[str] = []
    done = 0
    for found in pattern.finditer(text):
        pieces.append(html.escape(text[done : found.start()]))
        pieces.append(f"<mark>{html.escape(found.group())}</mark>")
        done = found.end()
    pieces.append(html.escape(text[done:]))
    return "".join(pieces)
