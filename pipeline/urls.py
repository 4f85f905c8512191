"""URL identity: the cleaned form under which an article is known.

courlan normalises the URL (scheme and host case, default ports, sorted query, the
common trackers such as ``utm_*`` and ``fbclid``); on top of it we drop the campaign
parameters that news feeds add to every link (CBC's ``cmp=rss``, Le Monde's ``xtor``,
the BBC's ``ns_*``, German sites' ``wt_mc``) and the fragment. courlan's strict mode is
not used: it keeps only a short allow-list of parameters and would merge distinct
articles such as ``story.php?sid=1`` and ``story.php?sid=2``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from courlan import normalize_url

MAX_URL_LENGTH = 2048
FEED_CAMPAIGN_PARAMS = re.compile(
    r"^(?:cmp|ocid|ito|xtor|wt_mc|wt_zmc|dmcid|smid|taid|rss|feed|ns_[a-z_]+|at_[a-z0-9_]+)$",
    re.IGNORECASE,
)


def clean_url(url: str) -> str:
    """The URL without tracking parameters or fragment, normalised; ValueError if unusable."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters: {url[:200]!r}…")
    try:
        url = normalize_url(url)
    except ValueError:
        pass  # courlan refuses some odd but fetchable URLs; keep our own cleaning below
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if not FEED_CAMPAIGN_PARAMS.match(key)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       urlencode(query), ""))


def choose_canonical(page_url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is trustworthy, else the page URL, cleaned.

    A canonical pointing at a site's front page (a common template bug) would merge
    every article of that site into one, so it is ignored.
    """
    if declared:
        try:
            candidate = clean_url(urljoin(page_url, declared.strip()))
        except ValueError:
            candidate = None
        if candidate and urlsplit(candidate).path.strip("/"):
            return candidate
    return clean_url(page_url)
