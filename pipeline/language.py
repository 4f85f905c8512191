"""Language of an article: langdetect on the text, the page and the feed as priors.

langdetect runs seeded, so the same text always gets the same answer. The page's
declared language (else the feed's hint) is the prior: it decides for a text too short
for langdetect to judge (under 20 letters); from there on the text decides, so an
English article on a page whose template declares German is English. Without a prior,
a text too short to judge is "und" (undetermined) — never a guess from a handful of
letters. Nothing here touches the network or the database.

(langdetect's own ``set_prior_map`` was measured too: its n-gram updates swamp any prior
within a few characters, so it changed nothing.)
"""

from __future__ import annotations

import re
from functools import lru_cache

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from pipeline.models import LanguageGuess

UNDETERMINED = "und"
# Measured on the lingua test set (bench/language.py): langdetect is right 45-80 % of the
# time below 20 letters, about 90 % from 20 to 40, and 97-100 % from 40 letters on.
MIN_LETTERS = 20
PRIOR_CONFIDENCE = 0.5
# Measured on the AEB pages: the first 1,000 characters decide as the first 3,000 do, in
# 55 % of the time; the first 400 as the first 1,000 do (all 181 pages), in 72 % of the time
# (4.4 -> 3.1 ms a page; bench/extraction.py reports the whole pipeline's cost).
MAX_CHARS = 400
# langdetect averages 7 random trials; a sample of 200 letters or more answers the same after
# 3 (all 329 such lingua sentences and real feed teasers, all 181 AEB pages), in 60 % of the time.
FEWER_TRIALS_FROM = 200
FEWER_TRIALS = 3
# Codes langdetect or web pages use that are not the ISO 639-1 code of the language.
ALIASES = {"ua": "uk", "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "zh-cn": "zh",
           "zh-tw": "zh", "nb": "no", "nn": "no"}
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_CODE = re.compile(r"^[a-z]{2}$")


def normalize_language_code(code: str | None) -> str | None:
    """ISO 639-1 for codes such as ``en-CA``, ``de_DE``, ``ua`` or ``zh-cn``; None if unusable."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    code = ALIASES.get(code, code)
    base = ALIASES.get(code.split("-")[0], code.split("-")[0])
    return base if _CODE.match(base) else None


def detect_language(text: str, *, declared: str | None = None, hint: str | None = None) -> LanguageGuess:
    """The language of ``text``, with ``declared`` (the page) and ``hint`` (the feed) as priors."""
    prior = normalize_language_code(declared) or normalize_language_code(hint)
    prior_source = "declared" if normalize_language_code(declared) else "hint"
    sample = text[:MAX_CHARS]
    letters = len(_LETTER.findall(sample))
    if letters < MIN_LETTERS:
        if prior:
            return LanguageGuess(prior, PRIOR_CONFIDENCE, prior_source)
        return LanguageGuess(UNDETERMINED, 0.0, "none")
    found = _langdetect(sample, trials=FEWER_TRIALS if letters >= FEWER_TRIALS_FROM else None)
    if not found:
        return (LanguageGuess(prior, PRIOR_CONFIDENCE, prior_source) if prior
                else LanguageGuess(UNDETERMINED, 0.0, "none"))
    best = max(sorted(found), key=found.__getitem__)  # sorted: ties always break alike
    return LanguageGuess(best, round(found[best], 4), "text")


def _langdetect(sample: str, trials: int | None = None) -> dict[str, float]:
    detector = _factory().create()
    if trials:
        detector.n_trial = trials
    detector.append(sample)
    try:
        found = detector.get_probabilities()
    except LangDetectException:
        return {}
    probabilities: dict[str, float] = {}
    for language in found:
        code = normalize_language_code(language.lang)
        if code:
            probabilities[code] = probabilities.get(code, 0.0) + language.prob
    return probabilities


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    """langdetect's 55 profiles, loaded once per process; seeded for determinism."""
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory
