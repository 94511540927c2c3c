r"""When a replicate counts: convergence diagnostics of its run and the criteria it must pass.

A replicate whose sampler has not converged says nothing about the coverage of the posterior's
credible sets, so a study *flags and excludes* replicates failing its
:class:`ConvergenceCriteria` (and counts them, with the reason:
:func:`bayesinv.coverage.summary.flagged_summary`). The diagnostics are ArviZ's rank-normalised
split R-hat and bulk/tail ESS (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, Bayesian
Analysis 16) of the quantities the credible sets are built from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..arviz_io import dataset_from_draws, ess, rhat
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from arviz import InferenceData


@dataclass(frozen=True)
class ConvergenceCriteria:
    """Checks a replicate must pass to be counted; None disables a check.

    R-hat (rank-normalised split R-hat, max over monitored quantities; Vehtari et al. 2021)
    needs >= 2 chains; ESS is the min over monitored quantities of the bulk and tail ESS.
    Monitored are the quantities the credible sets are built from — the scalar functionals,
    and per draw the L² distance ‖θ^{(s)} − m‖_{L²} and the standardised sup-norm statistic of
    the field sets — and, with ``latent=True``, every whitened coordinate ξ_k too. The latter
    is much stricter: with k ≈ 60 coordinates the max R-hat exceeds 1.01 by chance unless the
    ESS is in the thousands (in E1 with bulk ESS ≥ 460 on every ξ_k, 89 of 100 replicates had
    max R-hat between 1.010 and 1.021).
    """

    rhat_max: float | None = 1.01
    ess_min: float | None = 400.0
    max_divergences: int | None = 0
    min_acceptance: float | None = None
    latent: bool = False

    def failures(self, diag: Mapping[str, float]) -> list[str]:
        """The checks a run with diagnostics ``diag`` (:func:`replicate_diagnostics`) fails,
        each as a sentence with the measured value (empty when it passes)."""
        out = []
        if self.rhat_max is not None and not diag["rhat_max"] < self.rhat_max:
            out.append(f"R-hat {diag['rhat_max']:.4f} >= {self.rhat_max}")
        if self.ess_min is not None and not diag["ess_bulk_min"] >= self.ess_min:
            out.append(f"bulk ESS {diag['ess_bulk_min']:.0f} < {self.ess_min:g}")
        if self.ess_min is not None and not diag["ess_tail_min"] >= self.ess_min:
            out.append(f"tail ESS {diag['ess_tail_min']:.0f} < {self.ess_min:g}")
        if self.max_divergences is not None and diag["divergences"] > self.max_divergences:
            out.append(f"{diag['divergences']} divergences > {self.max_divergences}")
        if self.min_acceptance is not None and not diag["acceptance_rate"] >= \
                self.min_acceptance:
            out.append(f"acceptance {diag['acceptance_rate']:.3f} < {self.min_acceptance}")
        return out


#: the default criteria of a study (R-hat < 1.01, bulk and tail ESS >= 400, no divergence)
DEFAULT_CRITERIA = ConvergenceCriteria()


def replicate_diagnostics(idata: InferenceData, monitored: ArrayLike | None = None, *,
                          latent: bool = True, rhat_required: bool = True) -> dict[str, float]:
    """Max R-hat, min bulk/tail ESS, mean acceptance and divergences of one run.

    ``monitored``: draws (chain, draw, K) of the quantities to diagnose; ``latent`` adds the
    whitened coordinates ξ (when the posterior group has them). Raises InvalidArgumentError
    when R-hat is required and there are fewer than 2 chains.
    """
    parts = []
    if latent and hasattr(idata, "posterior") and "xi" in idata.posterior:
        parts.append(idata.posterior["xi"].values)
    if monitored is not None and np.shape(monitored)[-1] > 0:
        parts.append(np.asarray(monitored, dtype=float))
    if not parts:
        raise InvalidArgumentError("nothing to diagnose: no monitored quantities (and no 'xi')")
    chains = parts[0].shape[0]
    if rhat_required and chains < 2:
        raise InvalidArgumentError(
            f"R-hat needs at least 2 chains, got {chains}; run more chains or disable the "
            f"R-hat check (ConvergenceCriteria(rhat_max=None))")
    data = dataset_from_draws({"q": np.concatenate(parts, axis=-1)})
    out = {
        "ess_bulk_min": float(ess(data, method="bulk")["q"].values.min()),
        "ess_tail_min": float(ess(data, method="tail")["q"].values.min()),
        "rhat_max": float(rhat(data)["q"].values.max()) if chains >= 2 else float("nan"),
    }
    stats = getattr(idata, "sample_stats", None)
    out["acceptance_rate"] = (float(stats["acceptance_rate"].mean())
                              if stats is not None and "acceptance_rate" in stats else np.nan)
    out["divergences"] = (int(stats["diverging"].sum())
                          if stats is not None and "diverging" in stats else 0)
    return out
