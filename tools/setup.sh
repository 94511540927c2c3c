#!/usr/bin/env bash
# Idempotent set-up for bayesinv on Debian 12 or 13: Debian's FEniCSx, a venv that sees it, the
# package. Each step checks whether it is already done and skips it if so.
#   Debian 12 (bookworm): python3-dolfinx 0.5.2, Python 3.11, numpy 1.x (h5py built from source).
#   Debian 13 (trixie):   python3-dolfinx 0.9.0, Python 3.13, numpy 2 (Debian's; pinned for pip).
# The release is read from /etc/debian_version (BAYESINV_DEBIAN=12|13 overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
SYSTEM_PYTHON=/usr/bin/python3
# python3-dolfinx: FEniCSx 0.5 (dolfinx, ufl, basix, ffcx, petsc4py, mpi4py, OpenMPI)
# python3-venv:    `python3 -m venv` on Debian
# libsuitesparse-dev: headers for scikit-sparse (CHOLMOD), built by pip
# libhdf5-dev: h5py (ArviZ's netCDF writer) is built against Debian's HDF5 1.10, see step 3
# libglu1-mesa libxcursor1 libxft2 libxinerama1 libgomp1: shared libraries that the PyPI gmsh
#   wheel (meshes of disks and ellipses) links against
# openmpi-bin python3-mpi4py: mpirun and mpi4py for `bayesinv coverage --executor mpi` (already
#   pulled in by python3-dolfinx; named here because the MPI tests need them)
log() { printf '[setup] %s\n' "$*"; }

debian_release() {
  local v codename=""
  v=$(cat /etc/debian_version 2>/dev/null || true)
  case "$v" in
    12|12.*) echo 12; return ;;
    13|13.*) echo 13; return ;;
  esac
  [ -r /etc/os-release ] && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  case "$codename:$v" in
    bookworm:*|*:bookworm*) echo 12 ;;
    trixie:*|*:trixie*) echo 13 ;;
    *) echo "${v:-none}" ;;
  esac
}
DEBIAN=${BAYESINV_DEBIAN:-$(debian_release)}
case "$DEBIAN" in
  12)
    APT_PACKAGES=(python3-dolfinx python3-venv libsuitesparse-dev libhdf5-dev
                  libglu1-mesa libxcursor1 libxft2 libxinerama1 libgomp1
                  openmpi-bin python3-mpi4py) ;;
  13)
    # python3-h5py instead of a source build: Debian 13's h5py is built against its HDF5
    #   1.14, the one dolfinx 0.9 loads (RTLD_GLOBAL); the PyPI wheel's HDF5 2.x clashes with it
    #   as on Debian 12 ("Not a datatype"), so pip is told to keep Debian's h5py (step 3).
    # libgl1: Debian 13's libglu1-mesa no longer pulls in libGL, which gmsh's wheel needs.
    APT_PACKAGES=(python3-dolfinx python3-venv libsuitesparse-dev python3-h5py
                  libglu1-mesa libgl1 libxcursor1 libxft2 libxinerama1 libgomp1
                  openmpi-bin python3-mpi4py) ;;
  *)
    printf '[setup] error: tools/setup.sh supports Debian 12 (bookworm) and Debian 13 (trixie), but /etc/debian_version says %s; elsewhere install FEniCSx from conda-forge (fenics-dolfinx) and then `pip install -e ".[dev]"` (see README).\n' "$DEBIAN" >&2
    exit 1 ;;
esac
log "Debian $DEBIAN"

# 1. System packages (apt), only what is missing.
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! "$SYSTEM_PYTHON" -c "import dolfinx" >/dev/null 2>&1; then
  case " ${missing[*]-} " in *" python3-dolfinx "*) ;; *) missing+=(python3-dolfinx) ;; esac
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]} (apt-get; about a minute)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present: ${APT_PACKAGES[*]}"
fi
"$SYSTEM_PYTHON" -c "import dolfinx; print('[setup] dolfinx', dolfinx.__version__)"

# 2. The virtual environment (sees Debian's dolfinx through --system-site-packages).
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV"
else
  log "$VENV exists"
fi

# 3. The package, editable, with its dev extras; redone only when pyproject.toml changes.
#    h5py is built from source against Debian's HDF5: the PyPI wheel bundles HDF5 2.x, and
#    once dolfinx has loaded Debian's libhdf5 (1.10, RTLD_GLOBAL) the two clash and every
#    netCDF write fails with "Not a datatype". The build takes ~2 minutes, once (pip caches it).
stamp="$VENV/.bayesinv-installed"
want=$(sha256sum pyproject.toml tools/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing bayesinv (editable, with dev extras) into $VENV (first time: ~3 minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  if [ "$DEBIAN" = 12 ]; then
    pip_env=(PIP_NO_BINARY=h5py HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/serial)
  else
    # Debian 13: pip keeps the numpy 2 that Debian's petsc4py/dolfinx were built against, and
    # Debian's h5py (a venv's own copy, e.g. the PyPI wheel of an earlier set-up, is removed).
    constraints=$(cd "$VENV" && pwd)/constraints.txt
    "$SYSTEM_PYTHON" -c "import numpy, h5py; print('numpy==' + numpy.__version__); print('h5py==' + h5py.__version__)" > "$constraints"
    if "$VENV/bin/python" -c "import sys, h5py; sys.exit(not h5py.__file__.startswith(sys.prefix))" 2>/dev/null; then
      "$VENV/bin/python" -m pip uninstall -y -q h5py
    fi
    pip_env=(PIP_CONSTRAINT="$constraints")
  fi
  if ! env "${pip_env[@]}" \
      "$VENV/bin/python" -m pip install -e ".[dev]" > "$VENV/pip-install.log" 2>&1; then
    tail -40 "$VENV/pip-install.log"
    log "pip install failed; full log in $VENV/pip-install.log"
    exit 1
  fi
  echo "$want" > "$stamp"
else
  log "bayesinv already installed in $VENV"
fi
