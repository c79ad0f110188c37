"""``python -m fgemotalk_cli`` (also what torchrun launches for multi-GPU training)."""

from __future__ import annotations

import sys

from fgemotalk_cli.cli import main

if __name__ == "__main__":
    sys.exit(main())
