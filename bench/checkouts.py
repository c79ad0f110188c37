"""The arguments every before/after study shares: which checkout's code runs, and its label.

A study renders or measures with the fgemotalk_cli of ``--code`` (an older checkout for the
"before", this one for the "after") and files its results under ``--label``:

    parser = argparse.ArgumentParser()
    add_before_after_arguments(parser, REPO / "bench" / "results" / "realism")
    args = parser.parse_args()
    use_checkout(args.code)        # before importing fgemotalk_cli
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def add_before_after_arguments(parser: argparse.ArgumentParser, out: Path,
                               code_help: str = "checkout whose code runs") -> None:
    """``--media``, ``--out`` (default ``out``), ``--label`` and ``--code``."""
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--label", default="after")
    parser.add_argument("--code", type=Path, default=REPO, help=code_help)


def use_checkout(code: Path) -> None:
    """Import fgemotalk_cli from ``code`` from here on."""
    sys.path.insert(0, str(code))
