"""The floor of our tray stack: a bare pystray icon with a one-item menu and nothing else.

    python benchmarks/bare_tray.py gtk|appindicator|xorg|sni

tray_bench.py launches it beside `posture-agent start` and Workrave, so the cost of pystray and its
backend (before any code of ours runs) is measured in the same run as the app and the peer. `sni` is
our own StatusNotifierItem backend (posture_agent/ui/sni.py) under pystray's API.
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ["PYSTRAY_BACKEND"] = "dummy" if sys.argv[1] == "sni" else sys.argv[1]

import pystray  # reads PYSTRAY_BACKEND at import
from PIL import Image

if sys.argv[1] == "sni":
    from posture_agent.ui.sni import Icon
else:
    Icon = pystray.Icon


def main() -> None:
    icon: Any = None

    def quit_() -> None:
        icon.stop()

    image = Image.new("RGBA", (32, 32), (0, 128, 128, 255))
    icon = Icon("bare-tray", image, "bare tray", menu=pystray.Menu(pystray.MenuItem("Quit", quit_)))

    def setup(shown: Any) -> None:
        shown.visible = True

    icon.run(setup)


if __name__ == "__main__":
    main()
