"""Loading BibTeX/biblatex files with pybtex, keeping a key -> line index.

Several files load together (for example a file of ``@string`` macros plus the
main file): macros defined in earlier files are visible in later ones.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pybtex.errors
from pybtex.database import BibliographyData
from pybtex.database.input.bibtex import LowLevelParser, Parser, month_names
from pybtex.scanner import Pattern

from scholarly_build.core import children
from scholarly_build.core.problems import Problems
from scholarly_build.core.textfile import MAX_INPUT_BYTES, read_text
from scholarly_build.inputs import bibscan

# BibTeX and biber accept any printable character except ``"#%'(),={}`` in a macro
# or field name (BibTeX 8-bit bytes, biber Unicode): `@string{Göttingen = ...}` is
# legal. pybtex allows ASCII only and would reject such a file; widen its pattern.
LowLevelParser.NAME = Pattern(r"[^\s\"#%'(),={}0-9][^\s\"#%'(),={}]*", "a valid name")


@dataclass
class BibEntry:
    """One parsed entry: fields and names as pybtex read them, with the lines they were written on."""

    key: str
    type: str
    fields: dict[str, str]
    persons: dict[str, list[str]]
    path: Path
    line: int
    field_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line field ``name`` was written on (the entry's line if it is not there)."""
        return self.field_lines.get(name, self.line)

    @property
    def year(self) -> str | None:
        """The year, from ``year`` or the start of ``date``."""
        if "year" in self.fields:
            return self.fields["year"].strip()
        date = self.fields.get("date", "").strip()
        return date[:4] if date[:4].isdigit() else None

    @property
    def family_names(self) -> list[str]:
        """The authors' (else editors') family names."""
        people = self.persons.get("author") or self.persons.get("editor") or []
        return [p.split(",")[0].strip() for p in people]


@dataclass
class Bibliography:
    """Every entry of every .bib file by key, the files read and the @string macros defined."""

    entries: dict[str, BibEntry] = field(default_factory=dict)  # key as written -> entry
    files: list[Path] = field(default_factory=list)
    strings: dict[str, tuple[Path, int]] = field(default_factory=dict)
    _folded: dict[str, BibEntry] | None = field(default=None, repr=False, compare=False)

    def get(self, key: str) -> BibEntry | None:
        """The entry with this key; BibTeX compares keys case-insensitively (``crossref``)."""
        entry = self.entries.get(key)
        if entry is None:
            if self._folded is None or len(self._folded) != len(self.entries):
                self._folded = {k.lower(): e for k, e in self.entries.items()}
            entry = self._folded.get(key.lower())
        return entry


@dataclass
class _FileResult:
    scan: bibscan.ScanResult
    entries: list[tuple[str, str, dict[str, str], dict[str, list[str]]]]
    errors: list[str]


_CACHE_VERSION = b"v7-json-compact"
_BATCH = 2000  # entries per pybtex parse
_CACHE_MAX_BYTES = 16 * 1024 * 1024  # caching a huge parse would double its peak memory


def _parse_file(text: str, macros: dict[str, str], cache_dir: Path | None) -> tuple[_FileResult, dict[str, str]]:
    """Scan and parse one file; cached by content hash (plus incoming macros)."""
    digest = hashlib.sha256(_CACHE_VERSION + text.encode() + repr(sorted(macros.items())).encode()).hexdigest()
    # JSON, never pickle: build/ may come from a pull request, and a cache must not be able to run code.
    cache = cache_dir / f"bib-{digest}.json" if cache_dir else None
    if cache is not None and cache.is_file() and not cache.is_symlink():
        try:
            return _from_json(json.loads(cache.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            pass  # a corrupt or foreign cache entry is simply rebuilt
    with _parse_worker(text) as worker:  # starting while our scanner reads the file
        split = _Split(text, macros, worker)
        scan = bibscan.scan(text, split.add)
        entries, errors, current = split.finish()
    out_macros = current
    result = (_FileResult(scan, entries, errors), out_macros)
    if cache is not None and len(text) <= _CACHE_MAX_BYTES:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(_to_json(result)), encoding="utf-8")
            tmp.replace(cache)
        except OSError:
            pass
    return result


_Parsed = tuple[list[tuple[str, str, dict[str, str], dict[str, list[str]]]], list[str], dict[str, str]]
# From this many entries on, the first part is parsed in another process while this one
# scans and parses the rest (a process start costs about 0.3 s; 4,000 entries take pybtex
# about 0.9 s).
_PARALLEL_FROM = 2 * _BATCH
_STRING_COMMAND = re.compile(r"\s*@\s*string\s*[{(]", re.IGNORECASE)


@contextmanager
def _parse_worker(text: str) -> Iterator[ProcessPoolExecutor | None]:
    """A process for the first part of a large file, started at once: its start (about 0.3 s,
    importing pybtex) overlaps our scan of the file. None for a small file, or where none starts."""
    if text.count("@") < _PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        yield None
        return
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        with children.main_hidden():
            pool.submit(_parse_batches, [], {}, _BATCH)  # imports this module there now
    except Exception:  # noqa: BLE001 - no worker (no fork/spawn, a broken pool): this process parses all
        yield None
        return
    with pool:
        yield pool


def split_point(estimate: int) -> int | None:
    """How many entries, a multiple of the batch, the worker parses first (None: one process parses all).

    The worker starts on them as soon as our scan has reached them, while this process
    scans the rest, then parses it: the point where both finish together, counting the
    scan at a quarter of pybtex's time per entry and the trip back at a tenth more.
    """
    if estimate < _PARALLEL_FROM:
        return None
    candidates = range(_BATCH, estimate, _BATCH)
    return min(candidates, key=lambda mid: max(1.35 * mid, 0.25 * estimate + estimate - mid), default=None)


class _Split:
    """The clean spans of one file as the scan finds them (later duplicates dropped); the first
    :func:`split_point` of them parsed in the worker while the scan goes on, the rest here.

    The split falls on a batch boundary, and the rest starts from the macros the first part
    defines (its @string commands, parsed alone first), so the result is the one a single
    process gives, entry for entry, in the same order.
    """

    def __init__(self, text: str, macros: dict[str, str], pool: ProcessPoolExecutor | None) -> None:
        self.text, self.macros, self.pool = text, macros, pool
        self.keep: list[str] = []
        self.seen: set[str] = set()
        self.mid = split_point(text.count("@")) if pool is not None else None
        self.first: Future[_Parsed] | None = None

    def add(self, start: int, end: int, key: str | None) -> None:
        """One clean span from the scan (``key``: the entry's); the worker starts once ``mid`` are in."""
        if key is not None:
            if key.lower() in self.seen:
                return
            self.seen.add(key.lower())
        self.keep.append(self.text[start:end])
        if self.pool is not None and self.first is None and len(self.keep) == self.mid:
            try:
                self.first = self.pool.submit(_parse_batches, list(self.keep), self.macros, _BATCH)
            except Exception:  # noqa: BLE001 - a broken pool: this process parses all
                self.pool = None

    def finish(self) -> _Parsed:
        """Parse what the worker did not take, and join the two in order."""
        if self.first is None or self.mid is None:
            return _parse_batches(self.keep, self.macros, _BATCH)
        first, rest = self.keep[: self.mid], self.keep[self.mid :]
        strings = [span for span in first if _STRING_COMMAND.match(span)]
        _entries, string_errors, at_mid = _parse_batches(strings, self.macros, _BATCH)
        if string_errors:  # where a batch fails matters to which macros exist after it: stay serial
            return _parse_batches(self.keep, self.macros, _BATCH)
        more, more_errors, current = _parse_batches(rest, at_mid, _BATCH)
        try:
            entries, errors, _current = self.first.result()
        except Exception:  # noqa: BLE001 - the worker failed (killed, unpicklable, ...): parse it here
            entries, errors, _current = _parse_batches(first, self.macros, _BATCH)
        return entries + more, errors + more_errors, current


def _parse_batches(keep: list[str], macros: dict[str, str], batch: int) -> _Parsed:
    """pybtex over the clean entries: their plain data, pybtex's errors, and the macros defined at the end."""
    # Parsed in batches, each converted to plain data and dropped before the next:
    # pybtex's objects cost several times the text, which bounds memory on huge files.
    current = dict(macros) | {k: v for k, v in month_names.items() if k not in macros}
    errors: list[str] = []
    entries = []
    for first in range(0, len(keep), batch):
        parser = Parser(macros=current)
        errors_before = len(errors)
        with pybtex.errors.capture() as captured:
            try:
                data: BibliographyData = parser.parse_string("\n".join(keep[first : first + batch]))
            except Exception as exc:  # noqa: BLE001 - pybtex raises many types; all are reported
                errors.append(str(exc))
                data = BibliographyData()
        errors.extend(str(e) for e in captured)
        failed = len(errors) > errors_before
        for key, entry in data.entries.items():
            # Field names, person roles and types are case-insensitive in BibTeX: `Author = {...}`.
            persons = {role.lower(): [str(p) for p in people] for role, people in entry.persons.items()}
            entries.append((key, entry.type.lower(), {k.lower(): str(v) for k, v in entry.fields.items()}, persons))
        current = {str(k): str(v) for k, v in parser.macros.items()}
        del data, parser
        if failed and not gc.isenabled():
            # The check pauses the collector. pybtex's objects form no cycles (measured: a
            # collection after a clean batch frees nothing and cost 0.14 s per batch), but an
            # error's traceback may: free those now.
            gc.collect()
    return entries, errors, current


def _encoding_errors(problems: Problems) -> int:
    return sum(1 for p in problems if p.code == "encoding" and p.severity.value == "error")


def _to_json(result: tuple[_FileResult, dict[str, str]]) -> dict[str, object]:
    """Plain, compact JSON (lists, not objects per field): a warm check decodes this instead of parsing."""
    file_result, macros = result
    scan = file_result.scan
    return {
        "entries_scan": [
            [e.type, e.key, e.line, e.start, e.end, [[f.name, f.line, f.macros] for f in e.fields]]
            for e in scan.entries
        ],
        "strings": scan.strings,
        "faults": [[f.line, f.column, f.message, f.hint] for f in scan.faults],
        "good_spans": scan.good_spans,
        "string_macros": scan.string_macros,
        "entries": file_result.entries,
        "errors": file_result.errors,
        "macros": macros,
    }


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError("not an integer")
    return value


def _raw_field(row: list[Any]) -> bibscan.RawField:
    name, line, macros = row
    return bibscan.RawField(_str(name), _int(line), [(_str(m), _int(n)) for m, n in macros])


def _from_json(data: dict[str, Any]) -> tuple[_FileResult, dict[str, str]]:
    """Rebuild a parse result from plain JSON data (wrong shapes raise, and the file is re-parsed)."""
    entries = [
        bibscan.RawEntry(_str(t), _str(k), _int(line), _int(a), _int(b), [_raw_field(f) for f in fields])
        for t, k, line, a, b, fields in data["entries_scan"]
    ]
    result = bibscan.ScanResult(
        entries=entries,
        strings={_str(k): _int(v) for k, v in data["strings"].items()},
        faults=[bibscan.SyntaxFault(_int(a), _int(b), _str(c), _str(d)) for a, b, c, d in data["faults"]],
        good_spans=[(_int(a), _int(b)) for a, b in data["good_spans"]],
        string_macros=[(_str(m), _int(n)) for m, n in data["string_macros"]],
    )
    parsed = []
    for key, typ, fields, persons in data["entries"]:
        if not all(isinstance(v, str) for v in fields.values()):
            raise TypeError("a field value is not a string")
        if not all(isinstance(n, str) for people in persons.values() for n in people):
            raise TypeError("a name is not a string")
        parsed.append((_str(key), _str(typ), fields, persons))
    errors = [_str(e) for e in data["errors"]]
    macros = {_str(k): _str(v) for k, v in data["macros"].items()}
    return _FileResult(result, parsed, errors), macros


def load_bibliography(
    paths: list[Path] | tuple[Path, ...], problems: Problems, cache_dir: Path | None = None
) -> Bibliography:
    """Load every file; report syntax faults, duplicates and macro problems."""
    bib = Bibliography()
    macros: dict[str, str] = {}
    first_seen: dict[str, tuple[Path, int, str]] = {}
    for path in paths:
        text = _read_bib_text(path, problems)
        if text is None:
            continue
        bib.files.append(path)
        if not text.strip():
            problems.warning("bib-syntax", "bibliography file is empty", path=path, line=1)
            continue
        result, macros = _parse_file(text, macros, cache_dir)
        earlier = set(bib.strings)  # macros from the files loaded before this one
        for name, line in result.scan.strings.items():
            bib.strings[name] = (path, line)
        _report_file(path, result, earlier, problems)
        _add_entries(bib, path, result, earlier, first_seen, problems)
    return bib


def _read_bib_text(path: Path, problems: Problems) -> str | None:
    """The file's text; a file that is not UTF-8 is reported and still read, as Latin-1."""
    if not path.is_file():
        problems.error(
            "missing-file",
            "bibliography file not found",
            path=path,
            hint="check `bibliography` in manuscript/paper.yaml",
        )
        return None
    encoding_before = _encoding_errors(problems)
    text = read_text(path, problems)
    if text is None and _encoding_errors(problems) > encoding_before:
        # Reported as `encoding` (pandoc reads UTF-8 only); still read the entries, as
        # Latin-1, so that the rest of the file is checked and no key is lost.
        try:
            text = path.read_bytes().decode("latin-1") if path.stat().st_size <= MAX_INPUT_BYTES else None
        except OSError:
            text = None
    return text


def _macro_defined(macro: str, line: int, earlier: set[str], strings: dict[str, int]) -> bool:
    """BibTeX needs a macro defined before its use: in an earlier file or above this line."""
    name = macro.lower()
    here = strings.get(name)
    return name in month_names or name in earlier or (here is not None and here < line)


def _report_file(path: Path, result: _FileResult, earlier: set[str], problems: Problems) -> None:
    """Syntax faults, pybtex's own errors and undefined macros in ``@string`` values."""
    scan = result.scan
    for fault in scan.faults:
        problems.error("bib-syntax", fault.message, path=path, line=fault.line, column=fault.column, hint=fault.hint)
    for message in result.errors:
        lowered = message.lower()
        if "repeated" in lowered or "undefined string" in lowered or "duplicate" in lowered:
            continue  # reported with locations by _add_entries
        problems.error("bib-syntax", f"pybtex: {message}", path=path, line=1)
    for macro, mline in scan.string_macros:
        if not _macro_defined(macro, mline, earlier, scan.strings):
            problems.error(
                "undefined-macro",
                f"@string macro {macro!r} is used but never defined",
                path=path,
                line=mline,
                hint=f"define @string{{{macro} = {{...}}}} before this line",
            )


def _report_fields(
    path: Path, raw: bibscan.RawEntry, earlier: set[str], strings: dict[str, int], problems: Problems
) -> None:
    """Fields given twice and macros used before (or without) their definition."""
    names: set[str] = set()
    for f in raw.fields:
        if f.name in names:
            problems.error(
                "duplicate-field",
                f"field {f.name!r} is given twice in entry {raw.key!r}",
                path=path,
                line=f.line,
                key=raw.key,
                hint="keep one of the two values",
            )
        names.add(f.name)
        for macro, mline in f.macros:
            if not _macro_defined(macro, mline, earlier, strings):
                problems.error(
                    "undefined-macro",
                    f"@string macro {macro!r} is used but never defined",
                    path=path,
                    line=mline,
                    key=raw.key,
                    hint=f"define it with @string{{{macro} = {{...}}}} or put the value in braces",
                )


def _add_entries(
    bib: Bibliography,
    path: Path,
    result: _FileResult,
    earlier: set[str],
    first_seen: dict[str, tuple[Path, int, str]],
    problems: Problems,
) -> None:
    """Each scanned entry that pybtex parsed joins ``bib``; a key seen before is a ``duplicate-key``."""
    parsed = {key.lower(): (typ, fields, persons) for key, typ, fields, persons in result.entries}
    for raw in result.scan.entries:
        lower = raw.key.lower()
        _report_fields(path, raw, earlier, result.scan.strings, problems)
        if lower in first_seen:
            fpath, fline, fkey = first_seen[lower]
            where = f"line {fline}" if fpath == path else f"{fpath.name}:{fline}"
            problems.error(
                "duplicate-key",
                f"key {raw.key!r} is defined twice (first as {fkey!r} at {where}); "
                "BibTeX compares keys case-insensitively",
                path=path,
                line=raw.line,
                key=raw.key,
                hint="rename or remove one of the entries",
            )
            continue
        first_seen[lower] = (path, raw.line, raw.key)
        if lower not in parsed:
            continue
        typ, fields, persons = parsed[lower]
        field_lines: dict[str, int] = {}
        for f in raw.fields:
            field_lines.setdefault(f.name, f.line)
        bib.entries[raw.key] = BibEntry(raw.key, typ, fields, persons, path, raw.line, field_lines)
