#!/usr/bin/env bash
# Set up orchbench on a fresh Debian machine: system packages (bubblewrap for the sandbox, Chromium
# for the viewer's browser tests), then the package itself with its dev and cluster extras.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v chromium >/dev/null || need+=(chromium)
command -v git >/dev/null || need+=(git)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[dev,cluster]'
