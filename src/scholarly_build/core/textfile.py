"""Reading user files as text, with problems instead of exceptions.

Every user input (notes, .bib files, sections, settings) is read through
:func:`read_text`, so a wrong encoding, a byte-order mark, a UTF-16 file, a
folder in a file's place or an oversized file becomes one located problem
instead of a traceback, and every reader sees the same LF line ends. It only
reads: it must not write, follow up on what the text says, or raise for a bad file.
"""

from __future__ import annotations

import stat
from pathlib import Path

from scholarly_build.core.limits import MAX_BIB_BYTES, describe_bytes
from scholarly_build.core.problems import Problems

MAX_INPUT_BYTES = MAX_BIB_BYTES  # the largest any text input may be (limits.py has each kind's)


def read_text(
    path: Path, problems: Problems, *, code: str = "encoding", limit: int = MAX_INPUT_BYTES, kind: str = ""
) -> str | None:
    """Read UTF-8 text; report a non-UTF-8 file, a BOM, a UTF-16 file or an oversized file.

    Line ends are normalised: CRLF and a lone CR (classic Mac) both become LF, so every
    reader (the BibTeX scanner, pandoc, line numbers) sees the same lines. None means
    the file could not be used; the reason is then in ``problems`` (``code`` for
    encoding findings, ``kind`` names the input in the size message).
    """
    raw = _read_bytes(path, problems, limit, kind)
    if raw is None:
        return None
    text = _decode(raw, path, problems, code)
    return None if text is None else normalise_newlines(text)


def _read_bytes(path: Path, problems: Problems, limit: int, kind: str) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes (checked before reading), or None and a problem."""
    try:
        info = path.stat()
    except OSError as exc:
        problems.error("missing-file", f"cannot read file: {exc.strerror}", path=path)
        return None
    if not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        problems.error("missing-file", f"cannot read file: this is {what}", path=path, hint="name a text file")
        return None
    size = info.st_size
    if size > limit:
        problems.error(
            "file-too-large",
            f"file is {describe_bytes(size)}; the limit is {describe_bytes(limit)}" + (f" for {kind}" if kind else ""),
            path=path,
            line=1,
            hint="split the file" + (" (the size limits are listed in docs/settings.md)" if kind else ""),
        )
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        problems.error("missing-file", f"cannot read file: {exc.strerror}", path=path)
        return None


def _decode(raw: bytes, path: Path, problems: Problems, code: str) -> str | None:
    """UTF-8 text without a BOM (a BOM is dropped with a warning), or None when it is not UTF-8 text."""
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.warning(
            code,
            "file starts with a UTF-8 byte-order mark; it was ignored",
            path=path,
            line=1,
            hint="save the file as UTF-8 without BOM",
        )
        raw = raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(raw):
        problems.error(
            code,
            "file is UTF-16 (NUL bytes between the characters), not UTF-8; nothing in it was read",
            path=path,
            line=1,
            hint="re-save the file as UTF-8 (for example: iconv -f utf-16 -t utf-8)",
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.error(
            code,
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=path,
            line=raw[: exc.start].count(b"\n") + 1,
            hint="re-save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)",
        )
        return None
    if "\x00" in text:
        problems.error(
            code,
            "file contains NUL bytes; it is not a text file",
            path=path,
            line=text[: text.index("\x00")].count("\n") + 1,
            hint="re-save the file as UTF-8 text",
        )
        return None
    return text


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR -> LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _looks_utf16(raw: bytes) -> bool:
    """UTF-16 without a BOM: ASCII characters leave a NUL in every other byte."""
    sample = raw[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return False
    even, odd = sample[0::2], sample[1::2]
    return max(even.count(0) / len(even), odd.count(0) / max(1, len(odd))) > 0.3
