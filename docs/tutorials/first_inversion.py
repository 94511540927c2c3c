"""Tutorial 1 — a first inversion: from data to a posterior mean and a credible band.

Run it: ``python docs/tutorials/first_inversion.py [--quick] [--output DIR]``.

The problem (Nickl 2023, ch. 1): recover the absorption potential f = e^θ of the
Schrödinger-type equation

    ½Δu − f u = 0 in O = (0, 1)²,   u = 1 on ∂O,

from N noisy point values Y_i = u_f(X_i) + σ ε_i at uniform random points X_i.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import bayesinv
from bayesinv import fem


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small mesh, few draws")
    parser.add_argument("--output", type=Path, default=None, help="write a figure here")
    args = parser.parse_args(argv)
    mesh, n_obs, modes, draws = (12, 100, 20, 300) if args.quick else (32, 400, 60, 2000)

    # 1. The forward map G: θ ↦ (u_{e^θ}(X_i))_i. One call is one sparse factorisation.
    domain = fem.unit_square(mesh)
    X = fem.uniform_design(domain, n_obs, seed=1)
    G = fem.SchrodingerMap(domain, X, boundary_value=1.0)

    # 2. A truth and data. The prior below is a series on the Dirichlet–Laplacian
    #    eigenfunctions, which vanish on ∂O: pick a truth that does too, or no credible set
    #    of this prior can contain it.
    space = domain.parameter_space
    theta0 = space.interpolate(
        lambda x: np.sin(np.pi * x[0]) * np.sin(np.pi * x[1]) * (1 + 2 * x[0]))
    sigma = 0.005
    Y = bayesinv.simulate(G, theta0, noise_std=sigma, seed=2)
    # how far the truth's data are from those of θ = 0, in units of the noise
    snr = bayesinv.signal_to_noise(G(theta0), sigma, reference=G(np.zeros_like(theta0)))
    print(f"signal-to-noise ratio: {snr:.1f}")

    # 3. Prior and posterior. The default scale makes the prior's pointwise sd about 1.
    prior = bayesinv.SeriesPrior.dirichlet_laplacian(domain, alpha=2.0, num_modes=modes)
    posterior = bayesinv.Posterior(prior, bayesinv.GaussianLikelihood(G, Y, noise_std=sigma))

    # 4. Sample. Without a method, `sample` chooses one for this posterior and says which
    #    and why; it runs 4 chains with an adaptive warm-up and checks R-hat and ESS (a
    #    BayesinvWarning if they fail).
    idata = bayesinv.sample(posterior, draws=draws, seed=3, diagnostics=not args.quick)
    print(f"sampler: {idata.attrs['sampler']} — {idata.attrs['method_reason']}")
    print(f"acceptance {float(idata.sample_stats['acceptance_rate'].mean()):.2f}")

    # 5. What the posterior says: its mean, a 95% simultaneous (sup-norm) band, and an
    #    interval for the linear functional ⟨θ, ψ⟩_{L²}.
    theta_mean = idata.posterior["theta"].mean(("chain", "draw")).values
    band = bayesinv.simultaneous_band(idata, 0.95)
    psi = lambda x: np.sin(np.pi * x[0]) * np.sin(np.pi * x[1])  # noqa: E731
    interval = bayesinv.functional_interval(idata, psi, 0.95, space=space)
    M = space.mass_matrix
    error = float(np.sqrt((theta_mean - theta0) @ (M @ (theta_mean - theta0))
                          / (theta0 @ (M @ theta0))))
    truth_value = float(space.interpolate(psi) @ (M @ theta0))
    print(f"relative L² error of the posterior mean: {error:.3f}")
    print(f"band contains θ₀: {band.contains(theta0)}; ⟨θ, ψ⟩ in "
          f"[{interval.lower:.4f}, {interval.upper:.4f}] (truth {truth_value:.4f})")

    # 6. A picture: truth, posterior mean, band width.
    if args.output is not None:
        from matplotlib.figure import Figure

        from bayesinv.plotting import plot_field

        args.output.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(12, 3.6), layout="constrained")
        axes = fig.subplots(1, 3)
        plot_field(space, theta0, axes[0], title="truth θ₀")
        plot_field(space, theta_mean, axes[1], title="posterior mean")
        plot_field(space, band.upper - band.lower, axes[2], title="95% band width")
        fig.savefig(args.output / "first_inversion.png", dpi=100)
    report = {"sampler": idata.attrs["sampler"], "relative_l2_error": error,
              "band_contains_truth": bool(band.contains(theta0)),
              "interval": [interval.lower, interval.upper], "truth_value": truth_value}
    if args.output is not None:
        (args.output / "first_inversion.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
