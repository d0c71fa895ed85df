#!/usr/bin/env bash
# Set up a development environment in .venv (idempotent).
#   bash scripts/setup.sh            Python packages only (no root needed)
#   bash scripts/setup.sh --system   also the Debian packages the full suite uses (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--system" ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Nothing yet beyond a Python toolchain; later issues add their services here.
    apt-get install -y -qq --no-install-recommends python3-venv python3-dev gcc >/dev/null
fi

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup: .venv ready ($(.venv/bin/python --version))"
