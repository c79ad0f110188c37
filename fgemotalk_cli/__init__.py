"""fgemotalk: one portrait photo to a talking-head video, with Action Unit control.

The library API lives in :mod:`fgemotalk_cli.api`; the command line in :mod:`fgemotalk_cli.cli`
is a thin layer over it. Nothing heavy is imported here, so ``fgemotalk --help`` is instant.
"""

from __future__ import annotations

__version__ = "0.1.0"
