"""Repository-wide pytest configuration: Hypothesis profiles.

``default`` is quick (for CI and every-day runs); ``thorough`` draws many more examples.
Choose with the environment variable ``REFNN_HYPOTHESIS_PROFILE``::

    REFNN_HYPOTHESIS_PROFILE=thorough .venv/bin/pytest
"""

from __future__ import annotations

import os

# Test workers share two cores: multi-threaded BLAS inside each of them oversubscribes the
# machine and makes NumPy's small products hundreds of times slower. Set before any import
# of NumPy (a user's explicit setting wins).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("default", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)

_PROFILE = os.environ.get("REFNN_HYPOTHESIS_PROFILE", "default")
if _PROFILE not in ("default", "thorough"):
    raise ValueError(f"REFNN_HYPOTHESIS_PROFILE must be 'default' or 'thorough', got {_PROFILE!r}")
settings.load_profile(_PROFILE)
