"""``python -m refnn``: the same as the ``refnn`` command."""

import sys

from refnn.cli import main

sys.exit(main())
