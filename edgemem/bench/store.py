"""Results store: one JSON report per run in a results folder; never overwritten, written atomically.

A report is written to a temporary file in the same folder, flushed to disk, then hard-linked
to its final name: ``os.link`` fails when the name exists, so a concurrent writer or a rerun
gets a new suffix instead of replacing a result. Raw logs live in ``logs/<run id>/`` beside it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

from edgemem.bench.errors import BenchError

REPORT_SCHEMA = "edgemem.bench_report/1"
SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, limit: int = 40) -> str:
    return SLUG.sub("_", text).strip("._-")[:limit] or "x"


def report_name(document: dict) -> str:
    result = document["result"]
    stamp = (result.get("started_utc") or "unknown").replace(":", "").replace("-", "")
    model = Path(result["model"]["name"]).stem
    return f"{slug(stamp, 20)}-{slug(result['host'])}-{slug(model)}-{result['backend']}"


def save_report(directory: Path, document: dict) -> Path:
    """Write ``document`` under a new name in ``directory`` and return its path."""
    if document.get("schema") != REPORT_SCHEMA:
        raise ValueError("not a bench report document")
    directory.mkdir(parents=True, exist_ok=True)
    data = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
    tmp = directory / f".tmp-{os.getpid()}-{secrets.token_hex(4)}.json"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        base = report_name(document)
        for attempt in range(1000):
            final = directory / (f"{base}.json" if attempt == 0 else f"{base}-{attempt}.json")
            try:
                os.link(tmp, final)
                return final
            except FileExistsError:
                continue
        raise BenchError(f"cannot find a free file name for {base} in {directory}")
    finally:
        tmp.unlink(missing_ok=True)


def load_reports(paths: list[Path]) -> tuple[list[tuple[Path, dict]], list[str]]:
    """Reports from files and folders (their *.json), oldest first; plus one line per unreadable file."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.glob("*.json") if not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise BenchError(f"{path}: no such results file or folder")
    reports, skipped = [], []
    for file in sorted(set(files)):
        try:
            document = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            skipped.append(f"{file}: not readable JSON ({exc})")
            continue
        if not isinstance(document, dict) or document.get("schema") != REPORT_SCHEMA:
            skipped.append(f"{file}: not an {REPORT_SCHEMA} document")
            continue
        reports.append((file, document))
    reports.sort(key=lambda item: (item[1]["result"].get("started_utc") or "", item[0].name))
    return reports, skipped
