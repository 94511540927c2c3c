#!/usr/bin/env bash
# Idempotent install of the peer libraries that benchmarks/function_space.py compares against:
# legacy FEniCS 2019.2 (Debian's python3-dolfin) and hIPPYlib, in their own venv (PEERS_VENV,
# default /work/peers/hippylib-venv, outside the repo) with numpy < 2 (Debian's legacy FEniCS and
# petsc4py are built against numpy 1.x). Debian 12 only: Debian 13 no longer ships python3-dolfin,
# and this script says so and exits 0, so `make benchmarks-peers` skips the peer with a message.
set -euo pipefail
PEERS_VENV=${PEERS_VENV:-/work/peers/hippylib-venv}
log() { printf '[peers] %s\n' "$*"; }

# (the output is read into a variable first: `cmd | grep -q` fails under pipefail on SIGPIPE)
candidate() { local p; p=$(apt-cache policy python3-dolfin 2>/dev/null); [[ $p == *"Candidate: "[0-9]* ]]; }
if ! candidate; then
  [ "$(id -u)" -eq 0 ] && apt-get update -qq || true
fi
status=$(dpkg-query -W -f='${Status}' python3-dolfin 2>/dev/null || true)
if [ "$status" != "install ok installed" ]; then
  if ! candidate; then
    log "python3-dolfin (legacy FEniCS) is not available from this machine's Debian release:"
    log "the hIPPYlib comparison is skipped (benchmarks report 'no hIPPYlib interpreter')."
    exit 0
  fi
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing python3-dolfin (legacy FEniCS 2019.2; a few minutes)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    python3-dolfin python3-venv >/dev/null
fi
if [ ! -x "$PEERS_VENV/bin/python" ]; then
  log "creating $PEERS_VENV"
  mkdir -p "$(dirname "$PEERS_VENV")"
  /usr/bin/python3 -m venv --system-site-packages "$PEERS_VENV"
fi
if ! "$PEERS_VENV/bin/python" -c "import dolfin, hippylib" >/dev/null 2>&1; then
  log "pip install hippylib (numpy<2) into $PEERS_VENV"
  "$PEERS_VENV/bin/pip" install -q "numpy<2" hippylib
fi
"$PEERS_VENV/bin/python" -c "import dolfin, hippylib, numpy; print('[peers] dolfin', \
dolfin.__version__, '| hippylib', hippylib.__version__, '| numpy', numpy.__version__)"
