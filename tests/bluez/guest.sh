#!/bin/sh
# Runs INSIDE the virtme-ng guest, as root, on the host's root filesystem (read-only).
# Brings up a real BlueZ on CONTROLLERS (default 2) linked virtual LE controllers hci0..hciN-1,
# then runs the given command.
#   [CONTROLLERS=N] guest.sh OUT_DIR COMMAND [ARGS...]
# OUT_DIR is the only writable folder the host sees afterwards (vng --rwdir); every daemon
# logs there so a failing run can be read from the host. Exit codes 10-13: the stack did not
# come up (the host test reports which step); otherwise the command's own exit code.
set -u
OUT=$1; shift
log() { echo "[guest $(cut -d' ' -f1 /proc/uptime)] $*"; }
fail() { dmesg >"$OUT/dmesg.txt" 2>&1; btmgmt info >"$OUT/controllers.txt" 2>&1; exit "$1"; }
N=${CONTROLLERS:-2}
# Every controller registered with the kernel's management interface (not stuck in setup).
all_indexed() { [ "$(btmgmt info 2>/dev/null | grep -cE '^hci[0-9]+:')" = "$N" ]; }

# hci_vhci gives /dev/vhci; btvirt makes N LE-only controllers on one virtual link, so an
# advertisement from any one is seen by all the others. A program that wants no BlueZ state
# carried from one session to the next uses a fresh pair of controllers for each.
modprobe hci_vhci || fail 10
mkdir -p /run/dbus /var/lib/bluetooth
dbus-daemon --system --fork --nopidfile || fail 11

# Under heavy load (software emulation, shared cores) a controller's HCI set-up can time out
# and leave it out of the management index list (seen: hci1 without hci0). Start btvirt
# again, a bounded number of times, until every controller is indexed.
controllers_up() {
    for try in 1 2 3; do
        btvirt -L -l"$N" >>"$OUT/btvirt.log" 2>&1 &
        BTVIRT=$!
        i=0; while [ $i -lt 100 ]; do
            all_indexed && return 0
            i=$((i + 1)); sleep 0.2
        done
        log "btvirt try $try: indexed only: $(btmgmt info 2>/dev/null | grep -E '^hci' | cut -d: -f1)"
        dmesg >"$OUT/dmesg-try$try.txt" 2>&1
        kill $BTVIRT; wait $BTVIRT 2>/dev/null; sleep 1
    done
    return 1
}
controllers_up || fail 12
# BTMON=1: an HCI trace of both controllers in OUT/btmon.txt (slows the guest down).
# BTD_CONF=path: another main.conf for bluetoothd than bluetoothd.conf next to this script.
[ -n "${BTMON:-}" ] && { btmon >"$OUT/btmon.txt" 2>&1 & sleep 0.5; }

CONF=${BTD_CONF:-$(dirname "$0")/bluetoothd.conf}
/usr/libexec/bluetooth/bluetoothd -n ${BTD_DEBUG:+-d} -f "$CONF" >"$OUT/bluetoothd.log" 2>&1 &
i=0; until dbus-send --system --print-reply --dest=org.bluez / \
        org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && fail 13; sleep 0.1
done
# LE privacy (random advertising addresses; the os payer refuses to advertise without it):
# bluetoothd.conf asks for it too, but bluetoothd may reach a controller only after it is
# powered on below, and privacy can only be set while a controller is off.
h=0; while [ $h -lt "$N" ]; do btmgmt --index $h privacy on >/dev/null || fail 13; h=$((h + 1)); done
h=0; while [ $h -lt "$N" ]; do btmgmt --index $h power on >/dev/null || fail 13; h=$((h + 1)); done
btmgmt info >"$OUT/controllers.txt" 2>&1
# btmgmt exits 0 even for a missing index: check that both are really powered.
[ "$(grep -c 'current settings: powered' "$OUT/controllers.txt")" = "$N" ] || fail 13
log "bluez up"
"$@"
RC=$?
log "command exit $RC"
dmesg >"$OUT/dmesg.txt" 2>&1
exit $RC
