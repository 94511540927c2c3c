"""X-ray transforms on the unit disk: the linear, attenuated and non-Abelian transforms as
forward maps (numba kernels, parallel over lines; no FEniCSx needed).

* :mod:`.mesh` — :class:`Triangulation` carrying P1 fields, :func:`disk_triangulation`;
* :mod:`.geometry` — :class:`Lines` (fan- and parallel-beam), :class:`LineQuadrature`;
* :mod:`.transforms` — :class:`XRayTransform`, :class:`NonAbelianXRayTransform`,
  :func:`matrix_likelihood`;
* :mod:`.kernels` — the compiled integrator and its discrete adjoint;
* :mod:`.problems` — priors for the fields and a coverage-study factory.

References: F. Monard, R. Nickl & G. P. Paternain, *Consistent inversion of noisy non-Abelian
X-ray transforms*, Comm. Pure Appl. Math. 74 (2021); *Statistical guarantees for Bayesian
uncertainty quantification in non-linear inverse problems with Gaussian process priors*,
Ann. Statist. 49 (2021).
"""

from . import kernels
from .geometry import LineQuadrature, Lines
from .mesh import Triangulation, disk_triangulation
from .transforms import (
    NonAbelianXRayTransform,
    XRayTransform,
    attenuation_weights,
    check_matrix_data,
    matrix_likelihood,
    simulate_matrix_data,
)

__all__ = [
    "LineQuadrature",
    "Lines",
    "NonAbelianXRayTransform",
    "Triangulation",
    "XRayTransform",
    "attenuation_weights",
    "check_matrix_data",
    "disk_triangulation",
    "kernels",
    "matrix_likelihood",
    "simulate_matrix_data",
]
