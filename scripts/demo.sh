#!/usr/bin/env bash
# Quickstart command 1: install what is missing, build, and run Skiff's main job as it stands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
skiff() { node dist/src/cmd/skiff.js "$@"; }
skiff --version
