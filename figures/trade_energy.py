"""Belarus's trade and energy dependence on Russia, as reported by Behrends (2016).

Usage: python figures/trade_energy.py --data DATA_CSV --out OUT_STEM
Writes OUT_STEM.pdf and OUT_STEM.png, byte-identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

matplotlib.use("Agg")  # headless, before any figure exists

REQUIRED = (
    "group",
    "indicator",
    "value_percent",
    "qualifier",
    "year",
    "source_key",
    "locator",
)
# Okabe-Ito colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


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
            "hatch.linewidth": 0.8,
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


def plot(rows: list[dict[str, str]], path: Path) -> plt.Figure:
    """Draw one horizontal bar per indicator, coloured by group, in file order."""
    groups = list(dict.fromkeys(row["group"] for row in rows))
    colours = {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(9.0, 6.5), layout="constrained")
    labels: list[str] = []
    for pos, row in enumerate(rows):
        if not row["source_key"].strip() or not row["locator"].strip():
            sys.exit(
                f"{path}: row {pos + 1} ({row['indicator']}) has no source_key/locator"
            )
        try:
            value = float(row["value_percent"])
        except ValueError:
            bad = row["value_percent"]
            sys.exit(f"{path}: row {pos + 1}: value_percent {bad!r} is not a number")
        vague = bool(row["qualifier"].strip())
        ax.barh(
            pos,
            value,
            color=colours[row["group"]],
            edgecolor="black",
            linewidth=0.6,
            hatch="//" if vague else None,
        )
        text = f"{row['qualifier'].strip()} {row['value_percent']}%".strip()
        ax.text(value + 1.5, pos, text, va="center", fontsize=9)
        year = row["year"].strip().replace("-", "\u2013")
        labels.append(f"{row['indicator']} ({year})" if year else row["indicator"])
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 122)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("Per cent, as reported by Behrends (2016)")
    ax.set_ylabel("Indicator (year, where the thesis gives one)")
    ax.grid(axis="x", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    handles = [Patch(facecolor=colours[g], edgecolor="black", label=g) for g in groups]
    handles.append(
        Patch(
            facecolor="white",
            edgecolor="black",
            hatch="//",
            label="Vague in the thesis (about / over / almost)",
        )
    )
    ax.legend(handles=handles, loc="lower right", fontsize=9, frameon=False)
    return fig


def main() -> None:
    """Parse the command line, read --data and write the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="trade_energy CSV file"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output stem (no suffix)"
    )
    args = parser.parse_args()
    setup_style()
    rows = read_rows(args.data, REQUIRED)
    save(plot(rows, args.data), args.out)


if __name__ == "__main__":
    main()
