"""What this domain's read-cache keys name (see fastboard.cache): readers depend on them,
writers name those they change."""

from __future__ import annotations

# Which boards and categories there are, their names, slugs, order and state: the tree,
# one board, and the ``board`` slug every article carries.
BOARDS = "boards"
# How many articles each board holds: the tree and one board, nothing else.
BOARD_COUNTS = "board-counts"
