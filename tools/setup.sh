#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment at .venv from the committed pin file.
#
#   bash tools/setup.sh          # runtime: everything the pipelines, API and CLIs need
#   bash tools/setup.sh --dev    # + Debian Chromium/ChromeDriver for the browser tests
#
# Re-running is fast: the venv is rebuilt only when requirements.lock or pyproject.toml change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    *) echo "usage: bash tools/setup.sh [--dev]" >&2; exit 2 ;;
  esac
done

log() { printf '==> %s\n' "$*" >&2; }

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "error: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

stamp=.venv/.llm-twin-setup
want=$(cat requirements.lock requirements-nodeps.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log "virtual environment .venv is current"
else
  started=$SECONDS
  log "creating .venv with $($python --version) and installing requirements.lock (a few minutes the first time)"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  # -qq: errors only (some package mirrors print a warning per package otherwise).
  .venv/bin/python -m pip install -qq --upgrade pip
  # The lock pins torch==2.13.0: on a CPU machine point pip at a CPU wheel (see README).
  # --no-compile: pip would byte-compile all ~28k .py files of the venv, one at a time (about
  # 2 of the setup's ~3.5 minutes on 2 cores); tools/bytecode.py below compiles only what the
  # project imports, in two processes.
  .venv/bin/python -m pip install -qq --no-compile -r requirements.lock
  .venv/bin/python -m pip install -qq --no-compile --no-deps -r requirements-nodeps.lock
  .venv/bin/python -m pip install -qq --no-compile --no-deps -e .
  # Dependency check; packages of requirements-nodeps.lock lack their deps on purpose.
  nodeps=$(grep -v '^#' requirements-nodeps.lock | cut -d= -f1 | paste -sd'|')
  if problems=$(.venv/bin/python -m pip check 2>&1 | grep -v -i -E "^((${nodeps}) |No broken requirements)"); then
    echo "$problems" >&2; exit 1
  fi
  # Cache the bytecode of what the commands import (~30 s): with PYTHONDONTWRITEBYTECODE set
  # nothing else would, and each pipeline process would compile torch, transformers and ZenML.
  .venv/bin/python -m tools.bytecode
  echo "$want" > "$stamp"
  log "installed in $((SECONDS - started)) s; .venv is $(du -sh .venv | cut -f1)"
fi

if [ ! -d .zen ]; then
  log "initialising ZenML for this repository"
  if ! output=$(ZENML_ANALYTICS_OPT_IN=false .venv/bin/zenml init 2>&1); then
    echo "$output" >&2; exit 1
  fi
fi

if [ "$dev" = 1 ] && ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; }; then
    log "installing Debian chromium and chromium-driver for the browser tests"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >&2
  else
    log "warning: cannot install chromium here; browser tests will be skipped"
  fi
fi
