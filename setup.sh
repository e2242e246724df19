#!/usr/bin/env bash
# Set up orchbench on a fresh Debian/Ubuntu machine (or any Linux with Python >= 3.11):
#   1. system packages: bubblewrap (the sandbox), Chromium (the viewer's browser tests), git
#   2. a Python environment: the active venv if there is one, else ./.venv (made with uv when present,
#      else `python3 -m venv`), so a system Python that refuses installs (PEP 668) is never touched
#   3. the exact dependency versions of requirements.lock, then orchbench itself (editable)
#   4. optional: the external agents that external arms run (ORCHBENCH_AGENT_TOOLS=1)
# Variables: PYTHON (interpreter to make the venv from, default python3), ORCHBENCH_VENV (where to make
# it, default .venv; used even when a venv is active).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
have() { command -v "$1" >/dev/null; }

# --- 1. system packages ------------------------------------------------------------------------
python=${PYTHON:-python3}
have "$python" || die "no $python on PATH: install Python >= 3.11 (Debian/Ubuntu: apt-get install python3) or set PYTHON=..."
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$python is Python $pyver; orchbench needs >= 3.11: install one and pass it as PYTHON=python3.11"

venv=${ORCHBENCH_VENV:-${VIRTUAL_ENV:-.venv}}
need=()
have bwrap || need+=(bubblewrap)
have chromium || need+=(chromium)
have git || need+=(git)
[ "${ORCHBENCH_AGENT_TOOLS:-0}" = 1 ] && ! have npm && need+=(npm)
# Debian ships venv's pip bootstrap separately (python3.X-venv); uv makes venvs without it.
if [ ! -x "$venv/bin/python" ] && ! have uv && ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  need+=("python$pyver-venv")
fi
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    say "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    say "please install ${need[*]} (e.g. sudo apt-get install ${need[*]}); continuing without them"
  fi
fi

# --- 2. the Python environment ----------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  say "making a venv in $venv from $python ($pyver)"
  if have uv; then
    uv venv -q --python "$("$python" -c 'import sys; print(sys.executable)')" "$venv"
  else
    "$python" -m venv "$venv" || die "could not make a venv with $python -m venv (Debian/Ubuntu: apt-get install python$pyver-venv)"
  fi
fi
py="$venv/bin/python"

# --- 3. locked dependencies, then orchbench ---------------------------------------------------
if have uv; then
  install=(uv pip install -q --python "$py")
else
  "$py" -m pip --version >/dev/null 2>&1 || "$py" -m ensurepip -q  # a venv made by uv has no pip
  install=("$py" -m pip install -q --disable-pip-version-check)
fi
say "installing requirements.lock and orchbench into $venv"
"${install[@]}" -r requirements.lock
"${install[@]}" --no-deps -e .

# --- 4. optional: external agents (ORCHBENCH_AGENT_TOOLS=1) --------------------------------------
# The command-line agents that external arms run (Claude Code from npm; mini-swe-agent and aider, each
# in its own venv), at the versions pinned in src/orchbench/data/agents/agents.toml, into orchbench's
# cache. Their tests skip, saying why, where they are not installed.
if [ "${ORCHBENCH_AGENT_TOOLS:-0}" = 1 ]; then
  agents=(mini-swe-agent aider)
  if have npm; then agents=(claude-code "${agents[@]}"); else say "npm is missing: skipping Claude Code"; fi
  say "installing the external agents: ${agents[*]}"
  PATH="$venv/bin:$PATH" "$venv/bin/orchbench" agents install "${agents[@]}" \
    || die "installing the external agents failed (see above); rerun without ORCHBENCH_AGENT_TOOLS=1 to skip them"
fi

if [ "$venv" = .venv ]; then
  say "done. Next: .venv/bin/orchbench reproduce   (tests: .venv/bin/python -m pytest; or: source .venv/bin/activate)"
else
  say "done. Next: $venv/bin/orchbench reproduce   (tests: $venv/bin/python -m pytest)"
fi
