#!/usr/bin/env bash
# Regenerate requirements.lock from the current .venv (after adding a dependency to pyproject.toml
# and installing it there). Commit the result: tools/setup.sh installs exactly these versions.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
{
  echo "# Exact versions for a fresh machine (pip freeze of a working .venv; regenerate with tools/lock.sh)."
  echo "# torch==2.13.0 is the CPU build where pip finds one (see README: GPU and CPU-only installs)."
  # Packages of requirements-nodeps.lock are installed separately, without their deps.
  nodeps=$(grep -v '^#' requirements-nodeps.lock | cut -d= -f1 | paste -sd'|')
  .venv/bin/python -m pip freeze --exclude-editable | grep -v -i -E "^(llm-twin|${nodeps})==" \
    | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/'
} > requirements.lock
echo "requirements.lock: $(grep -vc '^#' requirements.lock) packages" >&2
