#!/bin/sh
# Runs INSIDE the virtme-ng guest, as root, on the host's root filesystem (read-only).
# Brings up a real BlueZ on two linked virtual LE controllers, then runs the given command.
#   guest.sh OUT_DIR COMMAND [ARGS...]
# OUT_DIR is the only writable folder the host sees afterwards (vng --rwdir); every daemon
# logs there so a failing run can be read from the host. Exit codes 10-13: the stack did not
# come up (the host test reports which step); otherwise the command's own exit code.
set -u
OUT=$1; shift
log() { echo "[guest $(cut -d' ' -f1 /proc/uptime)] $*"; }

# hci_vhci gives /dev/vhci; btvirt makes two LE-only controllers (hci0, hci1) on one virtual
# link, so an advertisement from one is seen by the other.
modprobe hci_vhci || exit 10
mkdir -p /run/dbus /var/lib/bluetooth
dbus-daemon --system --fork --nopidfile || exit 11
btvirt -L -l2 >"$OUT/btvirt.log" 2>&1 &
i=0; while [ ! -e /sys/class/bluetooth/hci1 ]; do
    i=$((i + 1)); [ $i -gt 200 ] && exit 12; sleep 0.1
done
/usr/libexec/bluetooth/bluetoothd -n ${BTD_DEBUG:+-d} >"$OUT/bluetoothd.log" 2>&1 &
i=0; until dbus-send --system --print-reply --dest=org.bluez / \
        org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && exit 13; sleep 0.1
done
for h in 0 1; do btmgmt --index $h power on >/dev/null || exit 13; done
btmgmt info >"$OUT/controllers.txt" 2>&1
log "bluez up"
"$@"
RC=$?
log "command exit $RC"
exit $RC
