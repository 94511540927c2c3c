"""The reference experiments of the design guide, frozen as code (each needs FEniCSx).

Import the submodules directly (e.g. :mod:`bayesinv.experiments.schrodinger_e1`); this package
imports nothing at import time, so ``import bayesinv`` keeps working without dolfinx.
"""
