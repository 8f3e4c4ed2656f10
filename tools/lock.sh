#!/usr/bin/env bash
# Regenerate requirements.lock from the current .venv (after adding a dependency to pyproject.toml
# and installing it there). Commit the result: tools/setup.sh installs exactly these versions.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
{
  echo "# Exact versions for a fresh machine (pip freeze of a working .venv; regenerate with tools/lock.sh)."
  echo "# torch==2.13.0 is the CPU build where pip finds one (see README: GPU and CPU-only installs)."
  .venv/bin/python -m pip freeze --exclude-editable | grep -v -i '^llm-twin' | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/'
} > requirements.lock
echo "requirements.lock: $(grep -vc '^#' requirements.lock) packages" >&2
