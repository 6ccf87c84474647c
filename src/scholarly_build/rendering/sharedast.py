"""The citeproc step that a document's HTML, DOCX and LaTeX renders share within a build.

Reading the Markdown, the filters before citeproc and citeproc itself are 75-90 % of
each render's pandoc time (measured on this repository's paper: 1.0 of 1.4 s for the
HTML). They do not depend on the output format once ``crossref.lua`` and
``previews.lua`` leave their format's choices to a second run (see ``shared.yaml``
and ``after-citeproc.yaml``). So the first render of a document that needs it writes
the document after citeproc as pandoc's JSON, and each format's render reads that
with its own writer. The renders of one document then run citeproc once instead of
three times; a test holds every output byte-identical to a render on its own.

Which JSON file holds which document is known only to this process: a file found in
``build/`` is never read unless this process wrote it (a pull request can commit
``build/``). A project that overrides one of the step's files renders each format on
its own, as before.
"""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scholarly_build.core.fsutil import sha256_bytes

if TYPE_CHECKING:
    from scholarly_build.rendering.render import RenderJob

# The engine's files the shared step depends on; a project that overrides one renders each format alone.
STEP_FILES = (
    "common.yaml",
    "citeproc.yaml",
    "shared.yaml",
    "after-citeproc.yaml",
    "filters/safety.lua",
    "filters/crossref.lua",
    "filters/previews.lua",
    "filters/math.lua",
    "filters/raw-to-text.lua",
    "filters/reconstructed.lua",
)
JSON = "document.json"  # the step's output, in its folder
_KEEP = 8  # documents' JSON remembered at once (a preview renders lone entries and sections too)


@dataclass
class _Step:
    lock: threading.Lock
    ast: Path | None = None
    sha: str = ""  # of the JSON as written: a file changed since (by anyone) is made again
    warnings: str = ""

    def usable(self) -> bool:
        try:
            return self.ast is not None and sha256_bytes(self.ast.read_bytes()) == self.sha
        except OSError:
            return False


_steps: OrderedDict[str, _Step] = OrderedDict()
_steps_lock = threading.Lock()


def citeproc_ast(job: RenderJob, folder: Path, allowed: list[str], make: Callable[[Path], str]) -> tuple[Path, str]:
    """The job's document after citeproc, as JSON (made now, or by another format's render); and pandoc's warnings.

    ``folder``: where the document's formats share the step; ``allowed``: the -M options naming
    the figures and cross-reference prefixes; ``make(work)`` runs the step in the emptied folder
    ``work``, writing ``work/JSON``, and returns pandoc's warnings (or raises BuildFailed).
    """
    inputs = [job.markdown.read_bytes(), job.metadata.read_bytes(), job.csl.read_bytes()]
    inputs += [b.read_bytes() for b in job.bibliography]
    inputs += [(job.defaults_dir / name).read_bytes() for name in STEP_FILES]
    key = sha256_bytes(b"\0".join([*inputs, "\0".join(allowed).encode(), str(folder).encode()]))
    with _steps_lock:
        step = _steps.get(key)
        if step is None:
            step = _steps[key] = _Step(threading.Lock())
            while len(_steps) > _KEEP:
                _steps.popitem(last=False)
            _prune(folder, {k[:24] for k in _steps})
        _steps.move_to_end(key)
    with step.lock:
        if step.ast is None or not step.usable():
            work = folder / key[:24]
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            step.warnings = make(work)
            step.ast, step.sha = work / JSON, sha256_bytes((work / JSON).read_bytes())
        return step.ast, step.warnings


def _prune(folder: Path, live: set[str]) -> None:
    """Remove the step folders in ``folder`` that no remembered step uses (each build would add one)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name not in live and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def engine_steps(templates: dict[str, Path], engine: Path) -> bool:
    """Whether the project renders with the engine's own copies of :data:`STEP_FILES` (only then are they shared).

    ``templates``: the project's template files by relative path; ``engine``: the engine's template folder.
    """
    for name in STEP_FILES:
        mine, default = templates.get(f"pandoc/{name}"), engine / "pandoc" / name
        try:
            if mine is None or mine.read_bytes() != default.read_bytes():
                return False
        except OSError:
            return False
    return True


def reset() -> None:
    """Forget every shared step (the next render of each document runs its own)."""
    with _steps_lock:
        _steps.clear()
