#!/usr/bin/env bash
# Installs everything Skiff needs on Debian 12 as root, then builds it. Idempotent: packages
# already present are not fetched again, and `npm ci` runs only when the lockfile changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runtime: runc/crun + conmon, CNI plugins, iptables, iproute2, overlay helpers, socat
# (port-forward connects inside a pod's network namespace with nsenter + socat).
# Test peers and fixtures: busybox-static (images), skopeo/umoci/podman (interop and
# benchmarks; catatonit is podman's pause for `kube play`), docker-registry (a real registry
# on loopback), etcd-server, hyperfine, wrk,
# tmux (a real terminal for -it tests), curl.
PKGS=(runc crun conmon containernetworking-plugins iptables iproute2 attr kmod socat
      busybox-static skopeo umoci podman catatonit docker-registry etcd-server
      hyperfine wrk tmux curl ca-certificates procps psmisc zstd openssl
      g++ make python3)  # node-gyp builds node-pty (kubectl exec -t) at npm ci

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's docker-registry package starts a service on :5000 for every interface; Skiff's
# tests start their own registries on loopback, so keep the packaged one stopped.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

# Podman (a benchmark peer) asks for rlimits above this machine's hard limit by default.
if [[ ! -e /etc/containers/containers.conf ]]; then
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n' > /etc/containers/containers.conf
fi

# Node dependencies, rebuilt only when package-lock.json changed since the last install.
stamp=node_modules/.skiff-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

npm run --silent build
