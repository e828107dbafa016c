"""``python -m fastboard``: the ``fastboard`` command without an installed entry point."""

import sys

from fastboard.cli import main

sys.exit(main())
