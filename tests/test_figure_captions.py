"""figure-caption-range: a caption's year range is checked against its data (issue 10)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scholarly_build.checks.figurecaptions import caption_range, data_years

from .conftest import CliResult


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Events of 1991–2018 discussed by the two works.", (1991, 2018)),
        ("Trade shares, 2011-13.", (2011, 2013)),
        ("Turnover 1995 — 2005 by partner", (1995, 2005)),
        ("Shares reported by Beta, in per cent.", None),
        ("Pages 120–135 of the thesis", None),
    ],
)
def test_caption_range(caption: str, expected: tuple[int, int] | None) -> None:
    assert caption_range(caption) == expected


def test_data_years_reads_date_columns_only(tmp_path: Path) -> None:
    """Years come from date columns (and a span's end); other numbers are ignored."""
    data = tmp_path / "d.csv"
    data.write_text("# comment 1900\nyear,year_end,value\n1991,,2500\n2011,2013,7\n2017,,1\n", encoding="utf-8")
    assert data_years(data) == (1991, 2017)
    data.write_text("label,value\ngas,1999\n", encoding="utf-8")
    assert data_years(data) is None


def test_stale_caption_range_is_a_warning(project_copy: Path, run_cli: Callable[..., CliResult]) -> None:
    """A caption saying 1991–2018 over data that ends in 2017 is reported at its line, as a warning."""
    data = project_copy / "figures" / "data" / "bars.csv"
    data.write_text("label,value,year\ngas,100,1991\noil,90,2017\n", encoding="utf-8")
    body = project_copy / "manuscript" / "sections" / "02-body.md"
    body.write_text(body.read_text(encoding="utf-8").replace("in per cent.", "1991–2018."), encoding="utf-8")
    code, out, _ = run_cli("--root", str(project_copy), "check")
    assert code == 0, out
    assert (
        "manuscript/sections/02-body.md:3: warning figure-caption-range: the caption of bars.png says "
        "1991–2018, but its data (bars.csv) runs 1991–2017"
    ) in out
    body.write_text(body.read_text(encoding="utf-8").replace("1991–2018.", "1991–2017."), encoding="utf-8")
    code, out, _ = run_cli("--root", str(project_copy), "check")
    assert "figure-caption-range" not in out
