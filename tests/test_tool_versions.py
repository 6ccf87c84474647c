"""The manifest's tool versions: asked again only when a tool changed (core/tools.py).

Fake ``xelatex``, ``tex``, ``latexmk`` and ``biber`` on ``PATH`` count their runs, so
the tests see which were asked; the cache lives in a temporary ``XDG_CACHE_HOME``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from scholarly_build.core import tools

FAKES = ("xelatex", "tex", "latexmk", "biber")


def _fake(bin_dir: Path, name: str, version: str) -> None:
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho run >> "{bin_dir}/{name}.runs"\necho "{name} {version}"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def _runs(bin_dir: Path) -> dict[str, int]:
    return {n: len((bin_dir / f"{n}.runs").read_text().split()) if (bin_dir / f"{n}.runs").exists() else 0
            for n in FAKES}


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in FAKES:
        _fake(bin_dir, name, "1.0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return bin_dir


def test_unchanged_tools_are_asked_once(fake_tools: Path) -> None:
    first = tools.versions("xelatex")
    assert first["biber"] == "biber 1.0" and first["latexmk"] == "latexmk 1.0" and first["xelatex"] == "xelatex 1.0"
    assert _runs(fake_tools) == dict.fromkeys(FAKES, 1)
    assert tools.versions("xelatex") == first
    assert _runs(fake_tools) == dict.fromkeys(FAKES, 1)  # all from the cache
    assert tools.versions_cache().is_file()


def test_a_changed_tool_is_asked_again(fake_tools: Path) -> None:
    tools.versions("xelatex")
    _fake(fake_tools, "biber", "2.0")  # a new file: another size, time and inode
    assert tools.versions("xelatex")["biber"] == "biber 2.0"
    assert _runs(fake_tools)["biber"] == 2


def test_doctor_and_force_ask_every_time(fake_tools: Path) -> None:
    tools.versions("xelatex")
    tools.versions("xelatex", reuse=False)
    assert _runs(fake_tools) == dict.fromkeys(FAKES, 2)


def test_a_damaged_cache_is_ignored(fake_tools: Path) -> None:
    tools.versions("xelatex")
    cache = tools.versions_cache()
    key = next(iter(json.loads(cache.read_text())))
    good = json.loads(cache.read_text())[key]
    for text in (
        "not json",
        json.dumps([1, 2]),
        json.dumps({key: {**good, "biber": 3}}),  # not a version line
        json.dumps({key: {"biber": "biber 9.9"}}),  # the other tools' lines missing
    ):
        cache.write_text(text)
        assert tools.versions("xelatex") == tools.versions("xelatex", reuse=False)
        assert tools.versions("xelatex")["biber"] == "biber 1.0"
    assert json.loads(cache.read_text())  # rewritten with what the tools said


def test_each_engine_keeps_its_own_answers(fake_tools: Path) -> None:
    _fake(fake_tools, "lualatex", "1.0")
    tools.versions("xelatex")
    tools.versions("lualatex")
    before = _runs(fake_tools)
    assert tools.versions("xelatex")["xelatex"] == "xelatex 1.0"
    assert tools.versions("lualatex")["lualatex"] == "lualatex 1.0"
    assert _runs(fake_tools) == before


def test_the_manifest_records_what_the_tools_say_now(built_mini: Path) -> None:
    """Whatever the cache held when the mini project was built, the manifest equals a fresh probe."""
    manifest = json.loads((built_mini / "build/manifest.json").read_text())
    assert manifest["tools"] == tools.versions("xelatex", reuse=False)
