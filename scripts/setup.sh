#!/usr/bin/env bash
# Set up a development environment in .venv (idempotent).
#   bash scripts/setup.sh            Python packages only (no root needed)
#   bash scripts/setup.sh --system   also the Debian packages the full suite uses (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--system" ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # A Python toolchain, the real-BlueZ test-bed (tests/bluez): QEMU with Debian's stock
    # kernel booted by virtme-ng, BlueZ with btvirt's virtual controllers, dbus, and a static
    # busybox for virtme-ng's initramfs.
    apt-get install -y -qq --no-install-recommends python3-venv python3-dev gcc \
        qemu-system-x86 linux-image-amd64 bluez bluez-test-tools dbus busybox-static \
        postgresql chromium >/dev/null
    # postgresql: the ledger tests start their own server (tests/ledger); chromium: the
    # kiosk's screens are tested in it, headless, through Playwright (tests/kiosk).
fi

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[bumble,ble,ledger,kiosk]' --group dev
if [[ "${1:-}" == "--system" ]]; then
    # Boots the test-bed VM (tests/bluez); needs the Debian packages above to be useful.
    .venv/bin/python -m pip install -q virtme-ng==1.42
fi
echo "setup: .venv ready ($(.venv/bin/python --version))"
