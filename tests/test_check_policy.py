"""Policy (issue 12): --select/--ignore, the project's `check:` setting, inline markers, SARIF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scholarly_build.cli import main

from .test_checks import INTRO_MD, REFS, make

BIB = "@article{a,\n  author = {A, B},\n  title = {T},\n  journal = {J},\n  year = {2001},\n}\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    rc = main([*argv[:2], "check", *argv[2:], "--format", "json"])
    return rc, json.loads(capsys.readouterr().out)


def adhoc(tmp_path: Path, md: str, bib: str = BIB) -> list[str]:
    (tmp_path / "refs.bib").write_text(bib)
    (tmp_path / "paper.md").write_text(md)
    return ["--root", str(tmp_path), "--bib", str(tmp_path / "refs.bib"), "--manuscript", str(tmp_path / "paper.md")]


def codes(data: dict) -> list[str]:  # type: ignore[type-arg]
    return [p["code"] for p in data["problems"]]


def test_ignore_and_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = adhoc(tmp_path, "See [@a] and [@zz].\n", BIB + "@misc{m,\n  title = {M},\n}\n")
    rc, data = run(capsys, *args[:2], *args[2:])
    assert sorted(codes(data)) == ["missing-field", "undefined-citation", "unused-entry"] and rc == 1
    rc, data = run(capsys, *args[:2], *args[2:], "--ignore", "undefined-citation,unused-")
    assert codes(data) == ["missing-field"] and rc == 0 and data["summary"]["errors"] == 0
    rc, data = run(capsys, *args[:2], *args[2:], "--select", "undefined-citation")
    assert codes(data) == ["undefined-citation"]
    rc, data = run(capsys, *args[:2], *args[2:], "--select", "ALL", "--ignore", "missing-field")
    assert sorted(codes(data)) == ["undefined-citation", "unused-entry"]


def test_inline_markers_silence_one_occurrence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = (
        'He wrote "a sentence long enough to quote here" [@a]. []{check-ignore="quote-without-locator"}\n\n'
        'And "another sentence long enough to quote" [@a].\n'
    )
    bib = "% check: ignore[missing-field]\n@misc{m,\n  title = {M},\n}\n@misc{n,\n  title = {N},\n}\n" + BIB
    _rc, data = run(capsys, *adhoc(tmp_path, md + "Also [@m; @n].\n", bib))
    found = [(p["code"], p["line"]) for p in data["problems"]]
    # Line 1's quotation and entry `m` (line 2) carry markers; line 3's quotation and entry `n` do not.
    assert sorted(found) == [("missing-field", 5), ("quote-without-locator", 3)]


def test_project_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(
        tmp_path,
        {
            INTRO_MD: ("[@gamma1999, p. 120]", "[@gama1999, p. 120]"),
            REFS: ("", "\n@book{delta2000,\n  author = {Delta, Dan},\n  title = {D},\n  date = {2000},\n}\n"),
            "manuscript/paper.yaml": ("", "check:\n  ignore: [unused-entry]\n"),
        },
    )
    _rc, data = run(capsys, "--root", str(root))
    assert "unused-entry" not in codes(data) and "undefined-citation" in codes(data)
    _rc, data = run(capsys, "--root", str(root), "--select", "unused-entry")
    assert codes(data) == []  # the setting's ignore still applies


def test_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = adhoc(tmp_path, "See [@zz].\n")
    rc = main([*args[:2], "check", *args[2:], "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert rc == 1 and log["version"] == "2.1.0"
    run_ = log["runs"][0]
    result = next(r for r in run_["results"] if r["ruleId"] == "undefined-citation")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 6}
    assert {r["id"] for r in run_["tool"]["driver"]["rules"]} == {r["ruleId"] for r in run_["results"]}
