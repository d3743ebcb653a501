"""Which tray backend `start` picks, from the tray hosts really running on a virtual desktop.

appindicator where a StatusNotifierItem host owns its D-Bus name (or no tray is up yet); gtk where
only an XEmbed tray (trayer) runs. Each check runs in a fresh process on the desktop's display
and private session bus, as `start` would.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from posture_agent.ui.tray_backend import SNI_WATCHER, pick_linux_backend
from tests.desktop import Desktop, bare_desktop, desktop
from tests.test_tray_desktop import skip_without_pygobject

__all__ = ["bare_desktop", "desktop"]

PROBE = (
    "import json, os\n"
    "from posture_agent.ui.tray_backend import available_backends, choose_backend, tray_hosts\n"
    "print(json.dumps({'hosts': sorted(tray_hosts(os.environ)), 'backend': choose_backend(),"
    " 'found': available_backends()}))\n"
)

OWNER = (
    "import sys\n"
    "from gi.repository import Gio, GLib\n"
    "bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)\n"
    "bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName',\n"
    "              GLib.Variant('(su)', (sys.argv[1], 4)), GLib.VariantType('(u)'), 0, -1, None)\n"
    "print('owned', flush=True)\n"
    "sys.stdin.read()\n"
)


def probe(d: Desktop) -> dict[str, object]:
    env = {k: v for k, v in d.env.items() if k != "PYSTRAY_BACKEND"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize(
    ("found", "hosts", "chosen"),
    [
        (["appindicator", "gtk"], {"sni"}, "appindicator"),
        (["appindicator", "gtk"], {"sni", "xembed"}, "appindicator"),
        (["appindicator", "gtk"], {"xembed"}, "gtk"),
        (["appindicator", "gtk"], set(), "appindicator"),  # nothing up yet: it docks in either kind later
        (["gtk"], {"sni"}, "gtk"),
        (["gtk"], set(), "gtk"),
    ],
)
def test_backend_follows_the_tray_hosts(found: list[str], hosts: set[str], chosen: str) -> None:
    assert pick_linux_backend(found, hosts) == chosen


@pytest.mark.desktop
def test_xembed_tray_only_gives_gtk(desktop: Desktop) -> None:
    skip_without_pygobject()
    result = probe(desktop)
    assert result["hosts"] == ["xembed"], "trayer owns the screen's _NET_SYSTEM_TRAY selection"
    assert result["backend"] == "gtk"


@pytest.mark.desktop
def test_a_status_notifier_host_gives_appindicator(desktop: Desktop) -> None:
    skip_without_pygobject()
    owner = subprocess.Popen([sys.executable, "-c", OWNER, SNI_WATCHER], env=desktop.env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "owned"
        result = probe(desktop)
    finally:
        owner.kill()
        owner.wait()
    assert result["hosts"] == ["sni", "xembed"]
    expected = "appindicator" if "appindicator" in result["found"] else "gtk"  # type: ignore[operator]
    assert result["backend"] == expected




@pytest.mark.desktop
def test_no_tray_yet_waits_with_appindicator(bare_desktop: Desktop) -> None:
    skip_without_pygobject()
    result = probe(bare_desktop)
    assert result["hosts"] == []
    assert result["backend"] == ("appindicator" if "appindicator" in result["found"] else "gtk")  # type: ignore[operator]
