"""Repository-wide pytest configuration: Hypothesis profiles.

``default`` is quick (for CI and every-day runs); ``thorough`` draws many more examples.
Choose with the environment variable ``REFNN_HYPOTHESIS_PROFILE``::

    REFNN_HYPOTHESIS_PROFILE=thorough .venv/bin/pytest
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)

_PROFILE = os.environ.get("REFNN_HYPOTHESIS_PROFILE", "default")
if _PROFILE not in ("default", "thorough"):
    raise ValueError(f"REFNN_HYPOTHESIS_PROFILE must be 'default' or 'thorough', got {_PROFILE!r}")
settings.load_profile(_PROFILE)
