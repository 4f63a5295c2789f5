"""``python -m refnn.conformance conform BACKEND …`` / ``… vectors export DIR``."""

import sys

from refnn.conformance.cli import main

sys.exit(main())
