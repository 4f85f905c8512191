"""How the event vectors align each language with English, on our own parallel sentences.

For each language, the mean cosine between a sentence and its English translation, the
mean cosine between unrelated sentences, and how often the translation is the nearest
English sentence (``seeds/examples/parallel.toml``, 16 news sentences in six languages).
These figures are where ``pipeline.stories``' calibration of Ukrainian pairs comes from
(``TRAINED_ALIGNMENT``, ``ALIGNMENT``, ``UNRELATED``); rerun this after changing the model
or the text an event vector is made of. Also the encoder's cost per text.

    .venv/bin/python bench/languages.py
"""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import embedding  # noqa: E402
from pipeline.stories import ALIGNMENT, TRAINED_ALIGNMENT, UNRELATED  # noqa: E402

PARALLEL = ROOT / "seeds" / "examples" / "parallel.toml"
LANGUAGES = ("de", "fr", "ru", "pl", "uk")


def main() -> int:
    sentences = tomllib.loads(PARALLEL.read_text(encoding="utf-8"))["sentence"]
    started = time.process_time()
    english = embedding.encode([s["en"] for s in sentences])
    cost = (time.process_time() - started) / len(sentences)
    print(f"{len(sentences)} sentences; encoding {cost * 1000:.1f} ms CPU each (first call includes loading)\n")
    print("| language | cos(translation, English) | cos(unrelated) | translation nearest | used in story links |")
    print("|---|---|---|---|---|")
    for language in LANGUAGES:
        vectors = embedding.encode([s[language] for s in sentences])
        cosines = vectors @ english.T
        diagonal = np.diag(cosines)
        unrelated = cosines[~np.eye(len(sentences), dtype=bool)]
        nearest = float(np.mean(cosines.argmax(axis=1) == np.arange(len(sentences))))
        used = ALIGNMENT.get(language, TRAINED_ALIGNMENT)
        print(f"| {language} | {diagonal.mean():.2f} | {unrelated.mean():.2f} | {nearest:.2f} | {used:.2f} |")
    print(f"\nstory links stretch cross-language pairs with a weakly aligned language from {UNRELATED:.2f} "
          f"by ({TRAINED_ALIGNMENT:.2f} - {UNRELATED:.2f}) / (alignment - {UNRELATED:.2f})")
    started = time.process_time()
    for _ in range(3):
        embedding.encode([embedding.event_text(s["en"] * 4, "") for s in sentences])
    print(f"a 40-word event text: {(time.process_time() - started) / (3 * len(sentences)) * 1000:.1f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
