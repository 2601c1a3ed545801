#!/usr/bin/env bash
# Build the local base image realtime-qa/base:bookworm without any container registry.
#
# stack/Dockerfile starts `FROM ${BASE_IMAGE}` (python:3.11-slim by default). Where no
# registry is reachable, this script makes a stand-in: a Debian bookworm root filesystem
# from debootstrap (python3, python3-venv, ca-certificates), with /opt/venv already holding
# every package of stack/requirements.txt and requirements-load.txt (installed in a
# chroot, which shares the host's network and CA bundle), imported with `docker import`. The Dockerfile's own
# `pip install -r` then finds everything satisfied and never needs the network.
#
# Idempotent: the image carries the sha256 of both requirement files and of this recipe in
# labels; a rerun with the same values prints "up to date" and exits. The debootstrap
# result is cached in .cache/base-rootfs (git-ignored) so a requirements change only
# redoes the pip step.
#
# Usage: scripts/build-base-image.sh [--force]     (run as root: debootstrap and chroot)
# Env:   BASE_ROOTFS_DIR (default <repo>/.cache/base-rootfs), DEBIAN_MIRROR,
#        BASE_IMAGE_TAG (default realtime-qa/base:bookworm)
set -euo pipefail

RECIPE_VERSION=2   # bump when this script changes what ends up in the image
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="${BASE_IMAGE_TAG:-realtime-qa/base:bookworm}"
CACHE_DIR="${BASE_ROOTFS_DIR:-$REPO_ROOT/.cache/base-rootfs}"
ROOT="$CACHE_DIR/root"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
REQUIREMENTS="$REPO_ROOT/stack/requirements.txt"
LOAD_REQUIREMENTS="$REPO_ROOT/requirements-load.txt"  # Locust for load/Dockerfile's workers
HOST_CA="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
FORCE=0

log() { printf '[build-base-image %3ds] %s\n' "$SECONDS" "$*"; }
die() { printf '[build-base-image] ERROR: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$arg' (only --force is accepted)" ;;
  esac
done

# -- preconditions ------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed (apt-get install -y docker.io)"
if ! timeout 20 docker info >/dev/null 2>&1; then
  die "Docker Engine does not answer (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}).
Start it with 'systemctl start docker' (or 'service docker start'), or point DOCKER_HOST at a running engine."
fi

if [[ "$FORCE" == 0 ]] && docker image inspect python:3.11-slim >/dev/null 2>&1; then
  log "python:3.11-slim is present locally: stack/Dockerfile builds from it; no local base needed (use --force to build anyway)"
  exit 0
fi

[[ -f "$REQUIREMENTS" && -f "$LOAD_REQUIREMENTS" ]] || die "missing $REQUIREMENTS or $LOAD_REQUIREMENTS"
REQ_SHA="$(cat "$REQUIREMENTS" "$LOAD_REQUIREMENTS" | sha256sum | cut -d' ' -f1)"
RECIPE_SHA="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

label_of() {
  docker image inspect "$TAG" --format "{{ index .Config.Labels \"$1\" }}" 2>/dev/null || true
}
if [[ "$FORCE" == 0 && "$(label_of realtime-qa.requirements-sha256)" == "$REQ_SHA" \
      && "$(label_of realtime-qa.recipe-version)" == "$RECIPE_VERSION" ]]; then
  log "$TAG is up to date (requirements sha256 ${REQ_SHA:0:12}, recipe v$RECIPE_VERSION)"
  exit 0
fi

[[ "$(id -u)" == 0 ]] || die "run as root (debootstrap and chroot need it): sudo $0"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed: apt-get install -y debootstrap"
command -v chroot >/dev/null 2>&1 || die "chroot is missing (coreutils)"
[[ -r "$HOST_CA" ]] || die "host CA bundle $HOST_CA is not readable (set PIP_CERT to the bundle pip should trust)"

log "building $TAG (requirements sha256 ${REQ_SHA:0:12}, recipe v$RECIPE_VERSION) in $CACHE_DIR"
mkdir -p "$CACHE_DIR"

# One build at a time per cache directory (parallel CI jobs on one machine).
exec 9>"$CACHE_DIR/.lock"
flock -w 1800 9 || die "another build holds $CACHE_DIR/.lock for more than 30 minutes"

# -- mounts inside the root are always undone, even on failure or Ctrl-C ----------------
MOUNTED=()
cleanup() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTED[$i]}" 2>/dev/null || true
  done
  MOUNTED=()
}
trap cleanup EXIT
trap 'cleanup; die "interrupted"' INT TERM

safe_rm_root() {
  # Never delete through a live mount point.
  if findmnt -rn -o TARGET | grep -q "^$ROOT/"; then
    die "something is still mounted under $ROOT (see 'findmnt | grep $ROOT'); unmount it first"
  fi
  rm -rf --one-file-system "$ROOT"
}

# -- 1. debootstrap (cached) ---------------------------------------------------------------
DONE_MARK="$CACHE_DIR/debootstrap.done"
WANT_MARK="$SUITE minbase python3,python3-venv,ca-certificates $MIRROR"
if [[ -f "$DONE_MARK" && "$(cat "$DONE_MARK")" == "$WANT_MARK" && -x "$ROOT/usr/bin/python3" ]]; then
  log "step 1/4: debootstrap: reusing cached root filesystem $ROOT"
else
  log "step 1/4: debootstrap --variant=minbase $SUITE from $MIRROR (takes a few minutes)"
  t0=$SECONDS
  rm -f "$DONE_MARK"
  safe_rm_root
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$ROOT" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed; full log: $CACHE_DIR/debootstrap.log"; }
  echo "$WANT_MARK" >"$DONE_MARK"
  log "step 1/4: debootstrap done in $((SECONDS - t0)) s"
fi

# -- 2. /opt/venv with the stack's requirements, installed in a chroot ----------------------
log "step 2/4: python3 -m venv /opt/venv + pip install -r stack/requirements.txt -r requirements-load.txt (chroot, host network)"
t0=$SECONDS
mount -t proc proc "$ROOT/proc" && MOUNTED+=("$ROOT/proc")
[[ -c "$ROOT/dev/null" ]] || { rm -f "$ROOT/dev/null"; mknod -m 666 "$ROOT/dev/null" c 1 3; }
[[ -c "$ROOT/dev/urandom" ]] || { rm -f "$ROOT/dev/urandom"; mknod -m 666 "$ROOT/dev/urandom" c 1 9; }
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp "$HOST_CA" "$ROOT/tmp/host-ca.crt"
cp "$REQUIREMENTS" "$ROOT/tmp/requirements.txt"
cp "$LOAD_REQUIREMENTS" "$ROOT/tmp/load-requirements.txt"
rm -rf "$ROOT/opt/venv"
chroot_env=(
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
  PIP_CERT=/tmp/host-ca.crt SSL_CERT_FILE=/tmp/host-ca.crt REQUESTS_CA_BUNDLE=/tmp/host-ca.crt
  PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-120}" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
)
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  if [[ -n "${!var:-}" ]]; then chroot_env+=("$var=${!var}"); fi
done
chroot "$ROOT" "${chroot_env[@]}" python3 -m venv /opt/venv
chroot "$ROOT" "${chroot_env[@]}" /opt/venv/bin/pip install --no-compile -q -r /tmp/requirements.txt -r /tmp/load-requirements.txt \
  || die "pip install in the chroot failed (is PyPI reachable from this host? proxy/CA: PIP_CERT=$HOST_CA)"
chroot "$ROOT" "${chroot_env[@]}" /opt/venv/bin/python -c \
  "import fastapi, uvicorn, websockets, jwt, prometheus_client, locust, psutil; print('imports ok')" >/dev/null
chroot "$ROOT" "${chroot_env[@]}" /opt/venv/bin/python -m compileall -q /opt/venv/lib >/dev/null || true
cleanup
log "step 2/4: venv ready in $((SECONDS - t0)) s"

# -- 3. clean what must not ship: apt caches, host DNS and CA copies -----------------------
log "step 3/4: cleaning apt caches, docs, host resolv.conf and CA copies"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/* \
  "$ROOT"/var/log/*.log "$ROOT"/tmp/* "$ROOT"/root/.cache \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*
: >"$ROOT/etc/resolv.conf"   # Docker mounts its own at run time

# -- 4. docker import -------------------------------------------------------------------
log "step 4/4: docker import -> $TAG"
t0=$SECONDS
tar --numeric-owner --one-file-system -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL realtime-qa.requirements-sha256=$REQ_SHA" \
  --change "LABEL realtime-qa.recipe-version=$RECIPE_VERSION" \
  --change "LABEL realtime-qa.recipe-sha256=$RECIPE_SHA" \
  --change 'LABEL org.opencontainers.image.description="realtime-qa local base: Debian bookworm, python3, /opt/venv"' \
  --change 'CMD ["python3"]' \
  --message "realtime-qa base: debootstrap $SUITE + stack/requirements.txt" \
  - "$TAG" >/dev/null
log "step 4/4: imported in $((SECONDS - t0)) s; size $(docker image inspect "$TAG" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
log "done: $TAG built in $SECONDS s (stack/Dockerfile uses it when python:3.11-slim is absent)"
