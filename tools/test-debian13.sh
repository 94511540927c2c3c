#!/usr/bin/env bash
# `make test-debian13`: the project's own `make test` inside a Debian 13 (trixie) root.
#
# 1. Creates, once, a trixie root with debootstrap (cached in $DEBIAN13_ROOT, default
#    /var/tmp/bayesinv-debian13, outside the repository) from the Debian mirror configured in
#    this machine's apt sources, and installs python3-dolfinx, make and git inside it.
# 2. Copies this machine's CA bundle and resolv.conf in (pip needs the CA bundle).
# 3. Clones the current HEAD of this repository into the root (a fresh clone each run) and runs
#    `make test` there, which runs tools/setup.sh's Debian 13 branch. The venv lives in the
#    root ($DEBIAN13_VENV inside it), so a second run reuses it.
# /proc, /sys and /dev are mounted for the run and unmounted on exit. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${DEBIAN13_ROOT:-/var/tmp/bayesinv-debian13}
VENV_IN_ROOT=${DEBIAN13_VENV:-/root/bayesinv-venv}
TARGET=${DEBIAN13_TARGET:-test}
SUITE=trixie
STAMP="$ROOT/.bayesinv-root-ready"

log() { printf '[debian13] %s\n' "$*"; }
die() { printf '[debian13] error: %s\n' "$*" >&2; exit 1; }

APT_DIR=${APT_DIR:-/etc/apt}  # (tests point it at a fake apt configuration)

# The Debian mirror of this machine's apt sources (deb822 *.sources or one-line *.list),
# the first non-security entry.
debian_mirror() {
  local f uri
  for f in "$APT_DIR"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'BEGIN{RS=""; FS="\n"}
      { uris=""; suites=""; types="";
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
          if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites = $i }
          if ($i ~ /^Types:/)  { types = $i }
        }
        if (types ~ /deb( |$)/ && uris ~ /debian/ && suites !~ /security/) { split(uris, u, " "); print u[1]; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in "$APT_DIR"/sources.list "$APT_DIR"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" && $0 !~ /security/ && $0 ~ /debian/ {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

if [ "${1:-}" = --print-mirror ]; then
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "no Debian mirror found in $APT_DIR/sources.list*"
  echo "$mirror"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mount); run it as root or with sudo"

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT

mount_all() {
  local d
  for d in proc sys dev; do
    mountpoint -q "$ROOT/$d" && continue
    mkdir -p "$ROOT/$d"
    case $d in
      proc) mount -t proc proc "$ROOT/proc" ;;
      sys) mount --rbind /sys "$ROOT/sys"; mount --make-rslave "$ROOT/sys" ;;
      dev) mount --rbind /dev "$ROOT/dev"; mount --make-rslave "$ROOT/dev" ;;
    esac
    mounted+=("$ROOT/$d")
  done
}

in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "$@"
}

copy_host_files() {
  mkdir -p "$ROOT/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

# 1. The root, once.
if [ ! -f "$STAMP" ]; then
  t0=$(date +%s)
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "no Debian mirror found in $APT_DIR/sources.list*"
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring"
  log "creating a Debian 13 ($SUITE) root in $ROOT from $mirror (debootstrap, a few minutes)"
  case "$ROOT" in /|/usr|/usr/*|/etc|/etc/*|/home|"") die "refusing DEBIAN13_ROOT=$ROOT" ;; esac
  grep -q " $ROOT/" /proc/mounts && die "something is still mounted under $ROOT: umount -R it first"
  rm -rf --one-file-system "$ROOT"
  mkdir -p "$(dirname "$ROOT")"
  debootstrap --variant=minbase --keyring="$keyring" --include=ca-certificates \
    "$SUITE" "$ROOT" "$mirror" > "$ROOT.debootstrap.log" 2>&1 \
    || { tail -20 "$ROOT.debootstrap.log"; die "debootstrap failed; log in $ROOT.debootstrap.log"; }
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE" \
    > "$ROOT/etc/apt/sources.list"
  copy_host_files
  mount_all
  log "installing python3-dolfinx make git inside the root (apt-get)"
  in_root apt-get update -qq
  in_root apt-get install -y -qq --no-install-recommends python3-dolfinx make git \
    > "$ROOT.apt.log" 2>&1 || { tail -20 "$ROOT.apt.log"; die "apt-get install in the root failed"; }
  in_root apt-get clean
  date -u +%FT%TZ > "$STAMP"
  log "root created in $(( $(date +%s) - t0 )) s"
else
  log "reusing the Debian 13 root in $ROOT (made $(cat "$STAMP"); delete it to rebuild)"
  copy_host_files
  mount_all
fi
in_root /usr/bin/python3 -c "import sys, dolfinx, numpy; print('[debian13] Python', sys.version.split()[0], '| dolfinx', dolfinx.__version__, '| numpy', numpy.__version__)"

[ "$TARGET" = none ] && exit 0

# 2. A fresh clone of the current HEAD.
head=$(git -C "$REPO" rev-parse HEAD)
rm -rf "$ROOT/root/bayesinv"
git clone -q --no-hardlinks "$REPO" "$ROOT/root/bayesinv"
git -C "$ROOT/root/bayesinv" checkout -q --detach "$head"
log "cloned $head into $ROOT/root/bayesinv"

# 3. The project's own `make test`, there.
t1=$(date +%s)
status=0
in_root /bin/bash -c "cd /root/bayesinv && make $TARGET VENV=$VENV_IN_ROOT" || status=$?
log "make $TARGET in the Debian 13 root: exit $status after $(( $(date +%s) - t1 )) s"
exit $status
