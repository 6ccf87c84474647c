"""Theme x work coverage matrix: notes on each theme that each compared work uses.

Usage: python figures/coverage.py --data COVERAGE_CSV --out OUT_STEM
The build engine writes COVERAGE_CSV from the notes; figures/data/coverage.sample.csv
is a test fixture. Writes OUT_STEM.pdf and OUT_STEM.png, byte-identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

matplotlib.use("Agg")  # headless, before any figure exists

REQUIRED = ("theme_id", "theme_label", "work_key", "work_label", "count")
CMAP = "cividis"  # perceptually uniform and colour-blind safe


def read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Read a CSV, skipping `#` comment lines; on error, exit naming the file."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            lines = [line for line in handle if not line.lstrip().startswith("#")]
    except OSError as err:
        sys.exit(f"{path}: cannot read data file ({err.strerror})")
    reader = csv.DictReader(lines)
    missing = [col for col in required if col not in (reader.fieldnames or [])]
    if missing:
        sys.exit(f"{path}: missing required column(s): {', '.join(missing)}")
    rows = list(reader)
    if not rows:
        sys.exit(f"{path}: no data rows")
    return rows


def setup_style() -> None:
    """Fix every style setting that could vary between machines."""
    plt.rcParams.update(
        {
            "svg.hashsalt": "scholarly-build",
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "pdf.fonttype": 42,
        }
    )


def save(fig: plt.Figure, out: Path) -> None:
    """Write OUT.pdf and OUT.png without timestamps or tool versions."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(
        Path(f"{out}.pdf"),
        metadata={"CreationDate": None, "Producer": None, "Creator": None},
    )
    fig.savefig(Path(f"{out}.png"), dpi=200, metadata={"Software": None})


def matrix(
    rows: list[dict[str, str]], path: Path
) -> tuple[list[str], list[str], list[list[int]]]:
    """Return theme labels, work labels (file order) and counts; absent pairs are 0."""
    themes = dict.fromkeys(row["theme_id"] for row in rows)
    works = dict.fromkeys(row["work_key"] for row in rows)
    theme_label = {row["theme_id"]: row["theme_label"] for row in rows}
    work_label = {row["work_key"]: row["work_label"] for row in rows}
    counts: dict[tuple[str, str], int] = {}
    for num, row in enumerate(rows, start=1):
        pair = (row["theme_id"], row["work_key"])
        if pair in counts:
            sys.exit(f"{path}: row {num}: duplicate theme/work pair {pair}")
        try:
            counts[pair] = int(row["count"])
        except ValueError:
            sys.exit(f"{path}: row {num}: count {row['count']!r} is not an integer")
    grid = [[counts.get((theme, work), 0) for work in works] for theme in themes]
    return [theme_label[t] for t in themes], [work_label[w] for w in works], grid


def plot(themes: list[str], works: list[str], grid: list[list[int]]) -> plt.Figure:
    """Heatmap with the count printed in every cell."""
    fig, ax = plt.subplots(
        figsize=(6.5, 0.45 * len(themes) + 1.8), layout="constrained"
    )
    top = max(1, *(max(line) for line in grid))
    image = ax.imshow(grid, cmap=CMAP, vmin=0, vmax=top, aspect="auto")
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            colour = "white" if value < top / 2 else "black"
            ax.text(
                j, i, str(value), ha="center", va="center", fontsize=10, color=colour
            )
    ax.set_xticks(range(len(works)), works)
    ax.set_yticks(range(len(themes)), themes)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("Compared work")
    ax.set_ylabel("Theme")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("Reading notes recording a use by the work")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    return fig


def main() -> None:
    """Parse the command line, read --data and write the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="coverage CSV file")
    parser.add_argument(
        "--out", type=Path, required=True, help="output stem (no suffix)"
    )
    args = parser.parse_args()
    setup_style()
    save(plot(*matrix(read_rows(args.data, REQUIRED), args.data)), args.out)


if __name__ == "__main__":
    main()
