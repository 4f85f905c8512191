"""Language identification on the lingua test set, by text length, with and without priors.

The set has 1,000 sentences, word pairs and single words per language (label = file
name). Headlines and teasers behave like word pairs; article bodies like sentences.
"und" (undetermined) counts as not right; "wrong" counts answers in another language.

    .venv/bin/python bench/language.py [--data ../shared/data/langid]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.language import UNDETERMINED, detect_language  # noqa: E402

LANGUAGES = ("de", "en", "fr", "uk", "ru", "pl", "es", "it", "nl")
KINDS = ("sentences", "word-pairs", "single-words")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/langid")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"lingua test set not found at {args.data}", file=sys.stderr)
        return 0
    table = Table(title="language identification (right % / und % / wrong %)", title_justify="left")
    table.add_column("language")
    for kind in KINDS:
        table.add_column(f"{kind}, text only", justify="right")
        table.add_column(f"{kind}, feed hint", justify="right")
    started, count = time.process_time(), 0
    for language in LANGUAGES:
        cells = []
        for kind in KINDS:
            path = args.data / kind / f"{language}.txt"
            lines = [l for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
            for hint in (None, language):
                codes = [detect_language(line, hint=hint).code for line in lines]
                count += len(lines)
                right = sum(c == language for c in codes) / len(codes)
                und = sum(c == UNDETERMINED for c in codes) / len(codes)
                cells.append(f"{right:.1%} / {und:.1%} / {1 - right - und:.1%}")
        table.add_row(language, *cells)
    Console(width=220).print(table)
    print(f"{(time.process_time() - started) / count * 1000:.2f} ms CPU per text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
