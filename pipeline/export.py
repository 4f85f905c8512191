"""Writing article records as JSON Lines, CSV or Parquet, streamed.

Timestamps are ISO 8601 with their offset; in CSV, lists are JSON arrays and booleans
``true``/``false`` so that every field reads back unambiguously. A CSV text cell that a
spreadsheet would take for a formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return, after any apostrophes) gets one apostrophe in front, as OWASP
advises against CSV injection; numbers are never touched, and dropping that one
apostrophe from such a cell gives the text back. JSON Lines and Parquet keep every
character as stored. Parquet (pyarrow) is
written in row groups of ``PARQUET_BATCH`` records, so memory stays bounded however many
articles are exported; timestamps are UTC, lists are lists of strings.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, BinaryIO, TextIO

from pipeline.storage.queries import EXPORT_FIELDS, ArticleDetails, ExportRecord

FORMATS = ("jsonl", "csv", "parquet")
TEXT_FORMATS = ("jsonl", "csv")
PARQUET_BATCH = 2000


def write_records(records: Iterable[ExportRecord], fmt: str, out: TextIO) -> int:
    """Write ``records`` to ``out`` in ``fmt`` (a text format); returns how many were written."""
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown text export format {fmt!r}; use one of {', '.join(TEXT_FORMATS)}")
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _csv_value(value) for key, value in record.items()})
            count += 1
    else:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
            count += 1
    return count


SEARCH_FIELDS = ("rank", "id", "title", "url", "outlet", "language", "published_at", "first_seen_at",
                 "story_id", "duplicate_of", "baseline_similarity", "topics", "snippet")


def write_search_results(results: Any, fmt: str, out: TextIO) -> None:
    """Search results (``pipeline.storage.search.SearchResults``) as one JSON document
    (query, total, hits) or as CSV, one row per hit in rank order."""
    hits = [dataclasses.asdict(hit) for hit in results.hits]
    if fmt == "json":
        document = {"query": results.query, "total": results.total, "hits": hits}
        out.write(json.dumps(document, ensure_ascii=False, default=_json_default, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=SEARCH_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for hit in hits:
            writer.writerow({key: _csv_value(value) for key, value in hit.items()})
    else:
        raise ValueError(f"unknown search result format {fmt!r}; use json or csv")


def parquet_schema():
    import pyarrow as pa

    when = pa.timestamp("us", tz="UTC")
    types = {"id": pa.int64(), "published_at": when, "first_seen_at": when, "language_confidence": pa.float64(),
             "word_count": pa.int64(), "duplicate_of": pa.int64(), "story_id": pa.int64(),
             "topics": pa.list_(pa.string()), "baseline_similarity": pa.float64(), "is_baseline": pa.bool_(),
             "version": pa.int64(), "baseline_adds": pa.list_(pa.string())}
    return pa.schema([(name, types.get(name, pa.string())) for name in EXPORT_FIELDS])


def write_parquet(records: Iterable[ExportRecord], out: BinaryIO | str, batch: int = PARQUET_BATCH) -> int:
    """Write ``records`` as Parquet to ``out`` (a path or a binary stream), a row group per
    ``batch`` records; returns how many were written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    count = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        pending: list[ExportRecord] = []
        for record in records:
            pending.append(record)
            if len(pending) == batch:
                writer.write_batch(pa.RecordBatch.from_pylist(pending, schema=schema))
                count += len(pending)
                pending = []
        if pending:
            writer.write_batch(pa.RecordBatch.from_pylist(pending, schema=schema))
            count += len(pending)
    return count


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return neutralise_formula(value)
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates: an apostrophe in front when it
    would begin a formula. Text that already begins with apostrophes before such a
    character gets one more, so that removing one always gives the original back."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def render_article(details: ArticleDetails) -> str:
    """An article as plain text for a terminal: metadata, labels, copies, versions, text."""
    a = details["article"]
    lines = [f"#{a['id']}  {a['title']}", f"{a['outlet']} · {a['language']} ({a['language_confidence']:.2f}) · "
             f"published {_iso(a['published_at'])} · version {a['version']}", a["url"], ""]
    lines.append(f"baseline similarity {a['baseline_similarity']}" if a["baseline_similarity"] is not None
                 else "baseline similarity —")
    if a["baseline_adds"]:
        lines.append("new against the baseline: " + ", ".join(a["baseline_adds"]))
    lines.append("topics: " + (", ".join(a["topics"]) or "none"))
    for concept in details["concepts"]:
        learned = f" p={concept['score']:.2f}" if concept.get("score") is not None else ""
        lines.append(f"  {concept['concept']:<22} {concept['kind']:<7} ×{concept['hits']:<3}{learned} "
                     + ", ".join(concept["terms"]))
    story = details["story"]
    if story:
        lines.append(f"story {story['id']}: {story['title']} ({story['article_count']} articles; "
                     f"{', '.join(story['languages'])}; {', '.join(story['outlets'])})")
    if a["duplicate_of"]:
        lines.append(details["duplicate_reason"] or f"near-duplicate of {a['duplicate_of']}")
    for copy in details["copies"]:
        lines.append(f"copied by #{copy['id']} {copy['outlet']}: {copy['title']} "
                     f"(containment {copy['duplicate_similarity']:.2f})")
    for version in details["versions"]:
        changes = version["changes"]
        lines.append(f"version {version['version']} (replaced {_iso(version['replaced_at'])}): {version['title']}")
        if changes["title_before"] != changes["title_after"]:
            lines.append(f"  title: {changes['title_before']!r} -> {changes['title_after']!r}")
        lines += [f"  + {p}" for p in changes["added"]] + [f"  - {p}" for p in changes["removed"]]
    return "\n".join(lines + ["", a["text"]])


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "—")
