"""Run `check --format json` on every tests/corpus item and print a table.

Usage: PYTHONPATH=<src> python scripts/corpus_table.py [--json OUT]
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def bib_files(item: Path) -> list[Path]:
    """The item's .bib files in load order: `order.txt` when present (@string files first)."""
    order = item / "order.txt"
    if order.is_file():
        return [item / line.strip() for line in order.read_text().splitlines() if line.strip()]
    return sorted(item.glob("*.bib"))


def run(item: Path) -> dict[str, object]:
    args = [sys.executable, "-m", "scholarly_build", "--root", str(item), "check", "--format", "json"]
    for bib in bib_files(item):
        args += ["--bib", str(bib)]
    for md in sorted([*item.glob("*.md"), *item.glob("*.Rmd")]):
        if md.name != "SOURCE.md":
            args += ["--manuscript", str(md)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return {"item": item.name, "traceback": proc.stderr[-400:]}
    codes = collections.Counter(f"{p['severity']}:{p['code']}" for p in data["problems"])
    return {"item": item.name, **data["summary"], "codes": dict(codes), "traceback": "Traceback" in proc.stderr}


def main() -> None:
    rows = [run(item) for item in sorted(p for p in CORPUS.iterdir() if p.is_dir())]
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    if len(sys.argv) > 2 and sys.argv[1] == "--json":
        Path(sys.argv[2]).write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
