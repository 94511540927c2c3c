"""BlackJAX MALA and ULA (full-gradient SGLD) throughput on N(μ, diag(1/p)), p = 1..100.

Run by ``benchmarks/samplers.py`` in an interpreter that has jax and blackjax (JAX needs
numpy >= 2, so typically a separate venv): ``python _blackjax_gaussian.py DIM STEPS
MALA_STEP ULA_STEP``. Prints one JSON line with steps per second for a single chain under
``jax.lax.scan`` (compiled once; the timed run excludes compilation).
"""

import json
import sys
import time

import blackjax
import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)


def main(dim, steps, mala_step, ula_step):
    mu = jnp.linspace(-1.0, 1.0, dim)
    p = jnp.linspace(1.0, 100.0, dim)

    def logdensity(x):
        d = x - mu
        return -0.5 * jnp.sum(p * d * d)

    mala = blackjax.mala(logdensity, mala_step)
    sgld = blackjax.sgld(lambda x, batch: jax.grad(logdensity)(x))

    @jax.jit
    def run_mala(key, x0):
        def body(state, k):
            state, _ = mala.step(k, state)
            return state, None
        state, _ = jax.lax.scan(body, mala.init(x0), jax.random.split(key, steps))
        return state.position

    @jax.jit
    def run_ula(key, x0):
        def body(x, k):
            return sgld.step(k, x, None, ula_step), None
        x, _ = jax.lax.scan(body, x0, jax.random.split(key, steps))
        return x

    out = {"jax": jax.__version__, "blackjax": blackjax.__version__}
    x0 = jnp.zeros(dim)
    for name, fn in (("MALA", run_mala), ("ULA", run_ula)):
        fn(jax.random.PRNGKey(0), x0).block_until_ready()  # compile
        t = time.perf_counter()
        fn(jax.random.PRNGKey(1), x0).block_until_ready()
        out[name] = steps / (time.perf_counter() - t)
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
