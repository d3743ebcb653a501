"""Two real Syncthing instances on this machine, each with its own home, sharing one folder over
127.0.0.1 only (no global or local discovery, no relays, no NAT traversal, no usage reports),
started and stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

FOLDER_ID = "posture-agent-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing() -> str | None:
    """Why the real-engine test cannot run here, None when it can."""
    return None if shutil.which("syncthing") else "the `syncthing` program is not installed (Debian package syncthing)"


@dataclass
class Instance:
    home: Path
    folder: Path
    port: int
    gui_port: int
    device_id: str = ""
    proc: subprocess.Popen[bytes] | None = None

    def generate(self) -> None:
        subprocess.run(
            ["syncthing", "generate", f"--home={self.home}", "--no-default-folder", "--skip-port-probing"],
            check=True, capture_output=True, timeout=60,
        )
        out = subprocess.run(["syncthing", f"--home={self.home}", "--device-id"], check=True,
                             capture_output=True, text=True, timeout=60).stdout
        self.device_id = out.strip().splitlines()[-1].strip()

    def configure(self, peer: Instance) -> None:
        path = self.home / "config.xml"
        tree = ET.parse(path)
        root = tree.getroot()
        options = root.find("options")
        assert options is not None
        for name, value in {
            "globalAnnounceEnabled": "false", "localAnnounceEnabled": "false", "relaysEnabled": "false",
            "natEnabled": "false", "crashReportingEnabled": "false", "startBrowser": "false",
            "urAccepted": "-1", "autoUpgradeIntervalH": "0",
        }.items():
            element = options.find(name)
            if element is None:
                element = ET.SubElement(options, name)
            element.text = value
        for element in options.findall("listenAddress"):
            options.remove(element)
        ET.SubElement(options, "listenAddress").text = f"tcp://127.0.0.1:{self.port}"
        gui = root.find("gui")
        assert gui is not None
        address = gui.find("address")
        assert address is not None
        address.text = f"127.0.0.1:{self.gui_port}"
        device = ET.SubElement(root, "device", {"id": peer.device_id, "name": "peer", "compression": "metadata",
                                                "introducer": "false"})
        ET.SubElement(device, "address").text = f"tcp://127.0.0.1:{peer.port}"
        folder = ET.SubElement(root, "folder", {
            "id": FOLDER_ID, "label": FOLDER_ID, "path": str(self.folder), "type": "sendreceive",
            "rescanIntervalS": "10", "fsWatcherEnabled": "true", "fsWatcherDelayS": "1",
        })
        for member in (self.device_id, peer.device_id):
            ET.SubElement(folder, "device", {"id": member})
        tree.write(path)

    def start(self, log: Path) -> None:
        env = dict(os.environ, STNOUPGRADE="1", STNODEFAULTFOLDER="1")
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def pair(base: Path) -> tuple[Instance, Instance]:
    """Two configured instances, not yet started; each shares its own copy of the folder."""
    first, second = (
        Instance(base / f"st-{n}", base / f"shared-{n}", free_port(), free_port()) for n in ("a", "b")
    )
    for inst in (first, second):
        inst.folder.mkdir(parents=True)
        inst.generate()
    first.configure(second)
    second.configure(first)
    return first, second
