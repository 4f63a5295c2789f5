"""The article's binary spiral target, generated procedurally (no file, no Pillow).

Each pixel ``(i, j)`` of an ``n×n`` grid is taken at its centre ``(x, y)`` in the
convention of :func:`refnn.image.grid.coordinate_grid` (spacing ``2/n``, within (−1, 1)),
and is **1** when it lies on the arm of an Archimedean spiral, **0** elsewhere::

    r = √(x² + y²),    θ = atan2(−y, x)          (−y: angles counter-clockwise on screen)
    u = turns · r − θ / (2π)
    value = 1  if  u − ⌊u⌋ < arm  else  0

The arm is the band between the Archimedean spirals ``r = (θ/2π + m) / turns`` and
``r = (θ/2π + m + arm) / turns`` (m = 0, 1, 2, …): a curve whose radius grows by
``1/turns`` per revolution, ``turns`` revolutions from the centre to the edge of the
grid (r = 1), with the arm covering the fraction ``arm`` of each radial period. The
defaults (25×25, ``turns=2``, ``arm=0.5``) wind about three times out to the corners and
give about as many 1s as 0s (313 of 625), a balanced target for binary cross-entropy.
"""

from __future__ import annotations

import math

from refnn import scalars
from refnn.errors import ShapeError
from refnn.image.core import Image
from refnn.image.errors import ImageError
from refnn.matrix import Matrix

__all__ = ["spiral"]


def spiral(size: int = 25, *, turns: float = 2.0, arm: float = 0.5) -> Image:
    """The ``size×size`` binary spiral (values ``0.0``/``1.0``) of the module docstring."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ShapeError(f"the spiral size must be an int ≥ 1, got {size!r}")
    if not (turns > 0 and math.isfinite(turns)) or not 0 < arm < 1:
        raise ImageError(
            f"spiral needs turns > 0 and 0 < arm < 1, got turns={turns!r}, arm={arm!r}",
            kind="invalid",
        )
    coords = [(2 * k - size - 1) / size for k in range(1, size + 1)]
    two_pi = 2.0 * math.pi
    data: list[float] = []
    for y in coords:
        for x in coords:
            u = turns * math.hypot(x, y) - math.atan2(-y, x) / two_pi
            data.append(1.0 if u - math.floor(u) < arm else 0.0)
    return Image((Matrix._new(size, size, tuple(data), scalars.FLOAT),), source="spiral")
