"""Timeline, 1991-2017, of dated events in Jorbenadze (2018) and Behrends (2016).

Usage: python figures/timeline.py --data figures/data/timeline.csv --out OUT_STEM
Writes OUT_STEM.pdf and OUT_STEM.png, byte-identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

matplotlib.use("Agg")  # headless, before any figure exists

REQUIRED = ("year", "event", "discussed_by", "source_key", "locator")
X_MIN, X_MAX = 1989.0, 2019.5
# Okabe-Ito colours plus distinct marker shapes, so colour is never the only cue.
STYLE = {
    "jorbenadze": ("Jorbenadze (2018)", "#0072B2", "o"),
    "behrends": ("Behrends (2016)", "#D55E00", "s"),
    "both": ("Both works", "#009E73", "D"),
}


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


def parse(
    rows: list[dict[str, str]], path: Path
) -> list[tuple[float, float, str, str]]:
    """Return (start, end, event, discussed_by) tuples, sorted by date."""
    events = []
    for num, row in enumerate(rows, start=1):
        who = row["discussed_by"].strip()
        if who not in STYLE:
            sys.exit(
                f"{path}: row {num}: discussed_by {who!r} is not one of {sorted(STYLE)}"
            )
        if not row["source_key"].strip() or not row["locator"].strip():
            sys.exit(f"{path}: row {num} ({row['event']}) has no source_key/locator")
        try:
            start = float(row["year"])
            end = float(row.get("year_end") or start)
        except ValueError:
            sys.exit(f"{path}: row {num}: year/year_end is not a number")
        events.append((start, end, row["event"].strip(), who))
    return sorted(events, key=lambda event: (event[0], event[1]))


def plot(events: list[tuple[float, float, str, str]]) -> plt.Figure:
    """Draw one row per event (the stagger): marker, span bar and label."""
    fig, ax = plt.subplots(
        figsize=(9.0, 0.32 * len(events) + 1.6), layout="constrained"
    )
    for row, (start, end, event, who) in enumerate(events):
        _, colour, marker = STYLE[who]
        ax.axhline(row, color="0.92", linewidth=0.6, zorder=0)
        if end > start:
            ax.plot(
                [start, end],
                [row, row],
                color=colour,
                linewidth=5,
                alpha=0.55,
                zorder=1,
            )
        ax.plot(
            start,
            row,
            marker=marker,
            color=colour,
            markersize=7,
            zorder=2,
            markeredgecolor="black",
            markeredgewidth=0.5,
            linestyle="none",
        )
        if (start - X_MIN) > (X_MAX - end):
            ax.text(start - 0.45, row, event, ha="right", va="center", fontsize=9)
        else:
            ax.text(end + 0.45, row, event, ha="left", va="center", fontsize=9)
    ax.set_xlim(X_MIN, X_MAX)
    ax.set_ylim(len(events) - 0.4, -0.6)
    ax.set_xticks(range(1990, 2020, 5))
    ax.set_xticks(range(1989, 2020), minor=True)
    ax.grid(axis="x", color="0.8", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_yticks([])
    ax.set_xlabel("Year (as given by the work; bars mark spans)")
    ax.set_ylabel("Events, in date order")
    ax.spines[["top", "right", "left"]].set_visible(False)
    present = [key for key in STYLE if any(event[3] == key for event in events)]
    handles = [
        Line2D(
            [],
            [],
            marker=STYLE[key][2],
            color=STYLE[key][1],
            markeredgecolor="black",
            markeredgewidth=0.5,
            linestyle="none",
            markersize=7,
            label=STYLE[key][0],
        )
        for key in present
    ]
    ax.legend(
        handles=handles,
        title="Discussed by",
        loc="upper right",
        fontsize=9,
        title_fontsize=9,
        frameon=False,
    )
    return fig


def main() -> None:
    """Parse the command line, read --data and write the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="timeline CSV file")
    parser.add_argument(
        "--out", type=Path, required=True, help="output stem (no suffix)"
    )
    args = parser.parse_args()
    setup_style()
    events = parse(read_rows(args.data, REQUIRED), args.data)
    save(plot(events), args.out)


if __name__ == "__main__":
    main()
