"""Benchmark: build the test fixture with a generated huge .bib; report time, peak memory and the outcome.

The build must complete or fail cleanly (exit 0 or 1, no traceback) within the memory limit. A 50 MB
.bib takes minutes, so tests/test_hardening.py runs the 5 MB version and this script the large one:

    python scripts/huge_bib.py --mb 50 --limit-gib 2

Exit code 0 when the build ended cleanly within the limit, 1 otherwise.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_bib(path: Path, megabytes: float) -> int:
    """Write well-formed @article entries until the file reaches ``megabytes``; return the entry count."""
    target = int(megabytes * 1024 * 1024)
    size = n = 0
    with path.open("w", encoding="utf-8") as fh:
        while size < target:
            entry = (f"@article{{huge{n:07d},\n  author = {{Author{n}, Ann and Other{n}, Bob}},\n"
                     f"  title = {{A title number {n} about regimes and foreign policy}},\n"
                     f"  journaltitle = {{Journal of Tests}},\n  volume = {{{n % 50}}},\n  pages = {{1--20}},\n"
                     f"  date = {{2001}},\n}}\n\n")
            fh.write(entry)
            size += len(entry)
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--mb", type=float, default=50.0, help="size of the generated .bib in MiB (default 50)")
    p.add_argument("--limit-gib", type=float, default=2.0, help="peak RSS allowed (default 2 GiB)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="huge-bib-") as tmp:
        root = Path(tmp) / "mini"
        shutil.copytree(REPO / "tests/fixtures/mini", root)
        shutil.copytree(REPO / "src/scholarly_build/templates", root / "templates")
        entries = write_bib(root / "bib/huge.bib", args.mb)
        settings = root / "manuscript/paper.yaml"
        settings.write_text(settings.read_text() + "bibliography: [bib/references.bib, bib/huge.bib]\n")
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "scholarly_build", "--root", str(root), "build"],
                              capture_output=True, text=True, check=False)
        seconds = time.monotonic() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / (1024 * 1024)
    clean = proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    errors = sum(1 for line in proc.stderr.splitlines() if ": error " in line)
    print(f"{args.mb:g} MiB .bib, {entries} entries: exit {proc.returncode} in {seconds:.1f} s, "
          f"peak RSS {peak_gib:.2f} GiB (limit {args.limit_gib:g}), {errors} error line(s), "
          f"{'clean' if clean else 'NOT CLEAN'}")
    if not clean:
        print(proc.stderr[-3000:])
    return 0 if clean and peak_gib < args.limit_gib else 1


if __name__ == "__main__":
    sys.exit(main())
