#!/usr/bin/env bash
# Quickstart command 1: install what is missing, build, and run Skiff's main job as it stands:
# build the busybox image from busybox-static, push it to a local registry, pull it back into
# a second data root, save it as an archive that skopeo reads, run a container; then bring up
# a single-node cluster (`skiff up`, left running) and apply an example Deployment that
# `skiff kubectl get pods` shows running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
skiff() { node dist/src/cmd/skiff.js "$@"; }

demo=$(mktemp -d /tmp/skiff-demo.XXXXXX)
reg_pid=
cleanup() { [[ -n $reg_pid ]] && kill "$reg_pid" 2>/dev/null; rm -rf "$demo"; }
trap cleanup EXIT
export SKIFF_ROOT=${SKIFF_ROOT:-/var/lib/skiff}

echo "== building busybox:latest from busybox-static into $SKIFF_ROOT"
bash scripts/build-busybox-image.sh busybox:latest >/dev/null
skiff images

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$demo/registry.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $demo/registry } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$demo/registry.yml" >/dev/null 2>&1 & reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

echo "== pushing to the local registry 127.0.0.1:$port"
skiff tag busybox "127.0.0.1:$port/demo/busybox:1"
skiff push "127.0.0.1:$port/demo/busybox:1"
echo "== pulling into a fresh data root"
skiff --root "$demo/root2" pull "127.0.0.1:$port/demo/busybox:1"
skiff --root "$demo/root2" images
echo "== saving an archive and reading it with skopeo"
skiff save -o "$demo/busybox.tar" busybox
skopeo --insecure-policy inspect "docker-archive:$demo/busybox.tar" | head -12
echo "== running busybox httpd with a published port (runc under conmon, CNI bridge network)"
skiff rm -f demo-web >/dev/null 2>&1 || true
webport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
skiff run -d --name demo-web -p "$webport:80" busybox httpd -f -p 80 -h /var/www >/dev/null
skiff ps
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$webport/" && break; sleep 0.1; done
skiff exec demo-web sh -c 'echo "inside: $(hostname) $(ip -4 -o addr show eth0 | awk "{print \$4}")"'
skiff rm -f demo-web >/dev/null

echo "== a single-node cluster: skiff up (API server, scheduler, controllers, node agent)"
if ! skiff kubectl get --raw /readyz >/dev/null 2>&1; then
  nohup node dist/src/cmd/skiff.js up > "$SKIFF_ROOT/skiff-up.log" 2>&1 &
  for _ in $(seq 100); do grep -q 'kubeconfig:' "$SKIFF_ROOT/skiff-up.log" 2>/dev/null && break; sleep 0.2; done
fi
export HOME=${HOME:-/root}
skiff kubectl wait --for=condition=Ready node --all --timeout=60s
skiff kubectl apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: { name: hello }
spec:
  replicas: 2
  selector: { matchLabels: { app: hello } }
  template:
    metadata: { labels: { app: hello } }
    spec:
      containers:
      - name: web
        image: busybox:latest
        imagePullPolicy: Never
        command: [sh, -c, 'echo "hello from $(hostname)"; exec httpd -f -p 8080 -h /var/www']
YAML
skiff kubectl rollout status deployment/hello --timeout=120s
skiff kubectl get pods -o wide
pod=$(skiff kubectl get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
skiff kubectl logs "$pod"
skiff kubectl exec "$pod" -- hostname
echo "== done: the cluster keeps running (skiff kubectl get pods); stop it with: node dist/src/cmd/skiff.js down"
