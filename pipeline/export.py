"""Writing article records as JSON Lines or CSV, streamed one record at a time.

Timestamps are ISO 8601 with their offset; in CSV, lists are JSON arrays and booleans
``true``/``false`` so that every field reads back unambiguously.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from pipeline.storage.queries import EXPORT_FIELDS

FORMATS = ("jsonl", "csv")


def write_records(records: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> int:
    """Write ``records`` to ``out`` in ``fmt``; returns how many were written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
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
    return value
