"""Problems are values with a location: ``path:line:col: severity code: message``.

Every stage collects problems instead of raising on the first one; a stage that
cannot continue raises :class:`BuildFailed` carrying everything it collected.
"""

from __future__ import annotations

import enum
import errno
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


class Severity(enum.StrEnum):
    """How bad a problem is: errors fail the check, warnings only with --strict."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding, sortable by file then line."""

    file: str
    line: int
    column: int
    code: str
    severity: Severity
    message: str
    key: str | None = None
    hint: str | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """File, line, column, code, message: the order reports print in."""
        return (self.file, self.line, self.column, self.code, self.message)

    def format(self) -> str:
        """The problem as ``path:line:col: severity code: message`` plus its hint line."""
        where = self.file or "<project>"
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        text = f"{where}: {self.severity.value} {self.code}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_json(self) -> dict[str, object]:
        """The problem as the JSON report's stable object."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line or None,
            "column": self.column or None,
            "key": self.key,
            "message": self.message + (f" (hint: {self.hint})" if self.hint else ""),
        }


class Problems:
    """An ordered collection of problems with helpers to add them."""

    def __init__(self, root: Path | None = None) -> None:
        self._items: list[Problem] = []
        self.root = root
        self._resolved_root: Path | None = None
        # Each file is relativised once: a large bibliography yields thousands of findings per file.
        self._names: dict[Path | str, str] = {}

    def _rel(self, path: Path | str | None) -> str:
        if path is None:
            return ""
        name = self._names.get(path)
        if name is None:
            name = self._names[path] = self._relativise(path)
        return name

    def _relativise(self, path: Path | str) -> str:
        p = Path(path)
        if self.root is not None:
            if self._resolved_root is None:
                self._resolved_root = self.root.resolve()
            # Not resolve(): a symlink is reported under its own name, not its target's.
            try:
                return str(Path(os.path.abspath(p)).relative_to(self._resolved_root))
            except ValueError:
                pass
        return str(p)

    def add(
        self,
        code: str,
        message: str,
        *,
        path: Path | str | None = None,
        line: int = 0,
        column: int = 0,
        severity: Severity = Severity.ERROR,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        """Record a problem at ``path`` (relativised to the root once per file)."""
        self._items.append(Problem(self._rel(path), line, column, code, severity, message, key, hint))

    def error(self, code: str, message: str, **kw: object) -> None:
        """Record an error (see :meth:`add`)."""
        self.add(code, message, severity=Severity.ERROR, **kw)  # type: ignore[arg-type]

    def warning(self, code: str, message: str, **kw: object) -> None:
        """Record a warning (see :meth:`add`)."""
        self.add(code, message, severity=Severity.WARNING, **kw)  # type: ignore[arg-type]

    def extend(self, items: Iterable[Problem]) -> None:
        """Record problems made elsewhere."""
        self._items.extend(items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(sorted(set(self._items), key=Problem.sort_key))

    def __len__(self) -> int:
        return len(set(self._items))

    @property
    def errors(self) -> list[Problem]:
        """The errors, sorted and without duplicates."""
        return [p for p in self if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """The warnings, sorted and without duplicates."""
        return [p for p in self if p.severity is Severity.WARNING]


class BuildFailed(Exception):
    """A user-facing failure: carries problems and/or a message, never a traceback."""

    def __init__(self, message: str = "", problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = sorted(problems, key=Problem.sort_key)

    def render(self) -> str:
        """The problems and the message, one per line, for the user."""
        lines = [p.format() for p in self.problems]
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and run the command again; complete outputs in build/ are kept",
    errno.EDQUOT: "the disk quota is exhausted: free some space and run the command again",
    errno.EROFS: "the file system is read-only: build in a writable copy of the project",
    errno.EACCES: "no permission: make the project and build/ writable for this user (or delete build/)",
    errno.EPERM: "no permission: make the project and build/ writable for this user (or delete build/)",
    errno.EISDIR: "a folder stands where a file should be: rename or remove it",
    errno.ENOTDIR: "a file stands where a folder should be: rename or remove it",
    errno.ELOOP: "a symbolic link loop: remove the link",
}


def os_error_message(exc: OSError, root: Path) -> str:
    """One line (plus a hint) for an error of the file system, naming the path."""
    where = "<project>"
    if exc.filename is not None:
        path = Path(os.fsdecode(exc.filename))
        try:
            where = str(Path(os.path.abspath(path)).relative_to(root))
        except ValueError:
            where = str(path)
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _OS_HINTS.get(exc.errno or 0, "check the path and its permissions")
    return f"{where}: error io: {reason}\n    hint: {hint}"
