"""Which tray backend `start` picks, from the tray hosts really running on a virtual desktop.

Our own StatusNotifierItem backend (`sni`) where a StatusNotifierItem host owns its D-Bus name;
gtk where only an XEmbed tray (trayer) runs, or a line naming the `gtk-tray` extra without
PyGObject; appindicator (else `sni`) when no tray is up yet. Each check runs in a fresh process on
the desktop's display and private session bus, as `start` would.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from posture_agent.ui.tray_backend import SNI_WATCHER, TrayUnavailable, pick_linux_backend
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
    "from posture_agent.session_bus import bus_proxy, open_router\n"
    "bus_proxy(open_router()).RequestName(sys.argv[1], 4)\n"
    "print('owned', flush=True)\n"
    "sys.stdin.read()\n"
)


def probe(d: Desktop, without_gi: bool = False) -> dict[str, object]:
    env = {k: v for k, v in d.env.items() if k != "PYSTRAY_BACKEND"}
    code = ("import sys; sys.modules['gi'] = None\n" if without_gi else "") + PROBE
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize(
    ("found", "hosts", "chosen"),
    [
        (["sni", "appindicator", "gtk"], {"sni"}, "sni"),
        (["sni", "appindicator", "gtk"], {"sni", "xembed"}, "sni"),
        (["sni"], {"sni", "xembed"}, "sni"),
        (["sni", "appindicator", "gtk"], {"xembed"}, "gtk"),
        (["sni", "appindicator", "gtk"], set(), "appindicator"),  # nothing up yet: it docks in either kind later
        (["sni"], set(), "sni"),  # registers when a StatusNotifierItem host appears
        (["appindicator", "gtk"], {"sni"}, "appindicator"),  # no session bus library
        (["gtk"], {"sni"}, "gtk"),
        (["gtk"], set(), "gtk"),
    ],
)
def test_backend_follows_the_tray_hosts(found: list[str], hosts: set[str], chosen: str) -> None:
    assert pick_linux_backend(found, hosts) == chosen


def test_an_xembed_tray_without_pygobject_names_the_gtk_tray_extra() -> None:
    with pytest.raises(TrayUnavailable) as caught:
        pick_linux_backend(["sni"], {"xembed"})
    assert "XEmbed" in str(caught.value) and "posture-agent[gtk-tray]" in str(caught.value)


def test_without_jeepney_everything_still_imports_and_the_tray_falls_back() -> None:
    """Off Linux jeepney is not installed: the notifier, the tray's choice and doctor still load, the
    freedesktop notifications say they are unavailable, and no `sni` backend is offered."""
    code = (
        "import sys; sys.modules['jeepney'] = None\n"
        "import posture_agent.agent.notify, posture_agent.agent.diagnostics\n"
        "from posture_agent.agent.freedesktop import FreedesktopNotifications, NotificationsUnavailable\n"
        "from posture_agent.ui.tray_backend import available_backends\n"
        "try:\n    FreedesktopNotifications(print, print).open()\n"
        "except NotificationsUnavailable as e:\n    print(e)\n"
        "print('sni' in available_backends({'DBUS_SESSION_BUS_ADDRESS': 'unix:path=/nowhere'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["jeepney is not installed", "False"]


@pytest.mark.desktop
def test_xembed_tray_only_gives_gtk(desktop: Desktop) -> None:
    skip_without_pygobject()
    result = probe(desktop)
    assert result["hosts"] == ["xembed"], "trayer owns the screen's _NET_SYSTEM_TRAY selection"
    assert result["backend"] == "gtk"


@pytest.mark.desktop
def test_xembed_tray_only_without_pygobject_says_what_to_install(desktop: Desktop) -> None:
    env = {k: v for k, v in desktop.env.items() if k != "PYSTRAY_BACKEND"}
    code = ("import sys; sys.modules['gi'] = None\n"
            "from posture_agent.ui.tray_backend import choose_backend, TrayUnavailable\n"
            "try:\n    choose_backend()\nexcept TrayUnavailable as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert "XEmbed" in out.stdout and "gtk-tray" in out.stdout, out.stdout + out.stderr


@pytest.mark.desktop
def test_a_status_notifier_host_gives_our_own_backend(desktop: Desktop) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER, SNI_WATCHER], env=desktop.env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "owned"
        result = probe(desktop)
    finally:
        owner.kill()
        owner.wait()
    assert result["hosts"] == ["sni", "xembed"]
    assert result["backend"] == "sni"




@pytest.mark.desktop
def test_no_tray_yet_waits_with_appindicator(bare_desktop: Desktop) -> None:
    skip_without_pygobject()
    result = probe(bare_desktop)
    assert result["hosts"] == []
    assert result["backend"] == ("appindicator" if "appindicator" in result["found"] else "sni")  # type: ignore[operator]


@pytest.mark.desktop
def test_no_tray_yet_without_pygobject_waits_with_our_own_backend(bare_desktop: Desktop) -> None:
    result = probe(bare_desktop, without_gi=True)
    assert result == {"hosts": [], "backend": "sni", "found": ["sni"]}
