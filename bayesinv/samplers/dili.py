"""``method="dili"``: DILI with a fixed likelihood-informed subspace (:mod:`.kernels.dili`).

The LIS comes from the low-rank Laplace approximation (``preconditioner=None`` builds
:func:`bayesinv.laplace` at the MAP, threshold 0.1: eigenvalues ≥ 0.1 span the LIS; or pass
``bayesinv.laplace(posterior, threshold=..., rank=...)``). The one scale parameter, the
Crank–Nicolson step δ ∈ (0, 2], drives both the Langevin move on the LIS and pCN on the
complement (β = √(8δ)/(2+δ), as in Cui et al.'s code); it is adapted in warm-up to an
acceptance rate of 0.574 (the Langevin rate; the default start is 1/(λ_max − 1) of the
Γ-preconditioned curvature, as for gpCN-Langevin). Per step: one forward and one adjoint
solve and O(k r) arithmetic.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .kernels import dili
from .lowrank_methods import GPCNL
from .methods import WhitenedTarget


class DILI(GPCNL):
    """DILI (Cui, Law & Marzouk 2016, J. Comput. Phys. 304) with the LIS fixed at the MAP.

    A failed forward solve is a rejected proposal, counted in ``diverging``.
    """

    name = "dili"
    kernel = dili

    def __init__(self, target: WhitenedTarget, sqrt_precond: ArrayLike | None = None) -> None:
        super().__init__(target, sqrt_precond)
        self.packed = np.ascontiguousarray(dili.lis_reference(self.packed))
        self.sqrt_precond = self.inv_sqrt_precond = self.packed

