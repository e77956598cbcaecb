"""`python -m bench`: every benchmark, side by side, into BENCHMARKS.md (what `make bench` runs).

The benchmarks live beside the package, not in it: they need the dev tools (pandas for the CSV
comparison), and a user's install has no use for them.
"""

import argparse
import sys
from pathlib import Path

from rich.console import Console

from bench import run
from bench.sections import SECTIONS
from digitlab.errors import DigitlabError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes: every section in a few minutes")
    parser.add_argument("--out", type=Path, help="Markdown file to write (default BENCHMARKS.md; "
                        "with --quick runs/bench/BENCHMARKS.md)")  # fmt: skip
    parser.add_argument("--only", help=f"re-measure one section in place: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True, markup=False)
    try:
        out = args.out or (run.QUICK_OUT if args.quick else Path("BENCHMARKS.md"))
        if args.only is None:
            run.run_bench(args.quick, out, console)
        else:
            run.update_only(args.only, out, args.quick, console)
    except DigitlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
