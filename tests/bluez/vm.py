"""Host side of the real-BlueZ test-bed: check prerequisites, boot a VM, run a command in it.

The VM is Debian's stock kernel under QEMU, booted by virtme-ng with the host's root filesystem
shared read-only (no disk image): the guest sees this repository and its ``.venv`` at the same
paths. ``guest.sh`` brings up dbus, two linked ``btvirt`` controllers and ``bluetoothd`` inside,
then runs the command; only ``out_dir`` (``vng --rwdir``) keeps what the guest writes.

Invariants:
- Nothing is installed here: a missing prerequisite is reported by :func:`missing_prerequisites`
  with the command that installs it (``bash scripts/setup.sh --system``).
- Software emulation only (``--disable-kvm``): ``/dev/kvm`` on these machines is a PVM
  hypervisor that cannot run a stock kernel.
- QEMU's console goes to a pipe (it clobbers a redirected file) and is returned whole.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST_SH = Path(__file__).resolve().parent / "guest.sh"
VENV_BIN = Path(sys.executable).parent
SETUP_HINT = "run `bash scripts/setup.sh --system` (as root)"

# Host paths the guest uses (the guest runs on the host's root filesystem).
_GUEST_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "dbus-daemon": "dbus",
    "dbus-send": "dbus",
    "btvirt": "bluez-test-tools",
    "btmgmt": "bluez",
}
_BLUETOOTHD = Path("/usr/libexec/bluetooth/bluetoothd")


@dataclass(frozen=True, kw_only=True)
class VmRun:
    """One VM boot: the guest command's exit code and the whole console output."""

    returncode: int
    """Exit code of the guest command (10-13: the Bluetooth stack did not come up)."""
    console: str
    """Kernel, virtme-ng and guest output, interleaved as QEMU printed it."""


def _version_key(path: Path) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", path.name)]


def kernel_image() -> Path | None:
    """The newest Debian kernel image in /boot that has its modules installed."""
    images = sorted(Path("/boot").glob("vmlinuz-*-amd64"), key=_version_key)
    for image in reversed(images):
        release = image.name.removeprefix("vmlinuz-")
        if (Path("/lib/modules") / release / "modules.dep").exists():
            return image
    return None


def missing_prerequisites() -> list[str]:
    """What the test-bed lacks on this host, one readable line each; empty when all is there."""
    missing = [
        f"{tool} (Debian package {package})"
        for tool, package in _GUEST_TOOLS.items()
        if shutil.which(tool) is None
    ]
    if not _BLUETOOTHD.exists():
        missing.append(f"{_BLUETOOTHD} (Debian package bluez)")
    if kernel_image() is None:
        missing.append("a kernel in /boot with its modules (Debian package linux-image-amd64)")
    if not (VENV_BIN / "vng").exists():
        missing.append(f"{VENV_BIN / 'vng'} (pip package virtme-ng in the venv)")
    if sys.platform != "linux" or os.geteuid() != 0:
        missing.append("root on Linux (QEMU and the guest's bluetoothd run as root)")
    return missing


def run_in_vm(
    argv: list[str],
    *,
    out_dir: Path,
    timeout: float,
    memory: str = "1G",
    guest_env: dict[str, str] | None = None,
) -> VmRun:
    """Boot the VM, bring BlueZ up, run ``argv`` (from the repository root) inside it.

    ``out_dir`` is the guest's only writable folder (logs and results land there);
    ``guest_env`` sets variables for ``guest.sh`` (``BTMON=1``, ``BTD_DEBUG=1``). Raises
    ``subprocess.TimeoutExpired`` if the whole boot takes longer than ``timeout`` seconds.
    """
    image = kernel_image()
    if image is None:
        raise FileNotFoundError(f"no kernel image in /boot: {SETUP_HINT}")
    out_dir.mkdir(parents=True, exist_ok=True)
    variables = {"PYTHONDONTWRITEBYTECODE": "1", **(guest_env or {})}
    assignments = [f"{key}={value}" for key, value in variables.items()]
    guest = f"cd {shlex.quote(str(REPO))} && " + shlex.join(
        ["env", *assignments, str(GUEST_SH), str(out_dir), *argv]
    )
    command = [
        str(VENV_BIN / "vng"),
        "--run",
        str(image),
        "--disable-kvm",
        "--cpus",
        "2",
        "--memory",
        memory,
        "--rwdir",
        str(out_dir),
        "--exec",
        guest,
    ]
    # vng execs virtme-run from PATH: the venv's bin must come first.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    return VmRun(
        returncode=result.returncode,
        console=result.stdout.decode("utf-8", errors="replace"),
    )
