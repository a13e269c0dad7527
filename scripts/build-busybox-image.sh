#!/usr/bin/env bash
# Builds the `busybox` image from the host's busybox-static, so tests and demos never need
# Docker Hub:  scripts/build-busybox-image.sh [--root DIR] [NAME]   (NAME: busybox:latest)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rootargs=()
if [[ ${1:-} == --root ]]; then rootargs=(--root "$2"); shift 2; fi
name=${1:-busybox:latest}
bb=/bin/busybox
[[ -x $bb ]] || { echo "build-busybox-image: $bb missing (apt-get install busybox-static)" >&2; exit 1; }

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,etc,tmp,root,home,var/www,proc,sys,dev,usr/bin,usr/sbin,sbin}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
cp "$bb" "$rootfs/bin/busybox"
for applet in $("$bb" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
cat > "$rootfs/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat > "$rootfs/etc/group" <<'G'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
G
echo 'hello from skiff busybox' > "$rootfs/var/www/index.html"
# Fixed mtimes: the same busybox binary always gives the same layer digest.
find "$rootfs" -exec touch -h -d @0 {} +
exec node "$here/dist/src/cmd/skiff.js" "${rootargs[@]}" image import \
  --change 'CMD ["sh"]' --message "busybox $("$bb" | head -1 | awk '{print $2}') from busybox-static" \
  "$rootfs" "$name"
