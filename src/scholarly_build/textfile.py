"""Reading user files as text, with problems instead of exceptions."""

from __future__ import annotations

import stat
from pathlib import Path

from .problems import Problems

MAX_INPUT_BYTES = 64 * 1024 * 1024  # beyond this a "text" input is surely a mistake


def read_text(path: Path, problems: Problems, *, code: str = "encoding") -> str | None:
    """Read UTF-8 text; report a non-UTF-8 file, a BOM or an oversized file."""
    try:
        info = path.stat()
    except OSError as exc:
        problems.error("missing-file", f"cannot read file: {exc.strerror}", path=path)
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        problems.error("missing-file", f"cannot read file: this is {kind}", path=path, hint="name a text file")
        return None
    size = info.st_size
    if size > MAX_INPUT_BYTES:
        problems.error(
            "file-too-large",
            f"file is {size // (1024 * 1024)} MiB; the limit is {MAX_INPUT_BYTES // (1024 * 1024)} MiB",
            path=path,
            line=1,
            hint="split the file",
        )
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.error("missing-file", f"cannot read file: {exc.strerror}", path=path)
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.warning(
            code,
            "file starts with a UTF-8 byte-order mark; it was ignored",
            path=path,
            line=1,
            hint="save the file as UTF-8 without BOM",
        )
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.error(
            code,
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=path,
            line=line,
            hint="re-save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)",
        )
        return None
