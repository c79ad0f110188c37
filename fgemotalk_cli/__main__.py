"""``python -m fgemotalk_cli`` (also what torchrun launches for multi-GPU training)."""

from __future__ import annotations

from fgemotalk_cli.cli import run

if __name__ == "__main__":
    run()
