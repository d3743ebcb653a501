"""Bundle size and build time of the posture-agent app, beside a plain one-folder PyInstaller build
of a bare pystray script (`import pystray` + a PIL icon), both built in the same run, in the same
environment, from a clean PyInstaller cache.

Usage: python benchmarks/bundle_bench.py
Rows: the app as shipped (no plotting library: the weekly report's charts are SVG the package writes;
test packages, matplotlib and numpy excluded); the bare pystray script, built plainly
(`pyinstaller --onedir`, nothing excluded).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = '''"""A bare tray icon: the smallest program with pystray's stack."""
import pystray
from PIL import Image, ImageDraw

image = Image.new("RGBA", (64, 64), (13, 128, 112, 255))
ImageDraw.Draw(image).ellipse((16, 16, 48, 48), fill="white")
icon = pystray.Icon("bare", image, "bare", menu=pystray.Menu(pystray.MenuItem("Quit", lambda i: i.stop())))
icon.run()
'''


def folder_stats(folder: Path) -> tuple[int, int, bool]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    has_numpy = any(part.startswith("numpy") for p in files for part in p.relative_to(folder).parts)
    if not has_numpy:
        from PyInstaller.archive.readers import CArchiveReader

        for exe in (folder / "posture-agent", folder / "bare"):
            if exe.is_file():
                toc = CArchiveReader(str(exe)).open_embedded_archive("PYZ.pyz").toc
                has_numpy = any(m.split(".")[0] == "numpy" for m in toc)
    return sum(p.stat().st_size for p in files), len(files), has_numpy


def timed(cmd: list[str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None).parse_args()
    rows: list[tuple[str, float, int, int, bool]] = []
    with tempfile.TemporaryDirectory(prefix="bundle-bench-") as tmp_name:
        tmp = Path(tmp_name)
        out = tmp / "app"
        took = timed([sys.executable, str(ROOT / "installer" / "build.py"), "--dist", str(out / "dist"),
                      "--work", str(out / "work")], ROOT)
        rows.append(("posture-agent (as shipped)", took, *folder_stats(out / "dist" / "posture-agent")))
        script = tmp / "bare" / "bare.py"
        script.parent.mkdir()
        script.write_text(BARE, encoding="utf-8")
        took = timed([sys.executable, "-m", "PyInstaller", "--onedir", "--noconfirm", "--clean", "--log-level", "WARN",
                      "--distpath", str(tmp / "bare" / "dist"), "--workpath", str(tmp / "bare" / "work"),
                      "--specpath", str(tmp / "bare"), str(script)], tmp / "bare")
        rows.append(("bare pystray script (plain)", took, *folder_stats(tmp / "bare" / "dist" / "bare")))

    import PyInstaller

    bare = rows[-1]
    print(f"PyInstaller {PyInstaller.__version__}, Python {sys.version.split()[0]}, {sys.platform}")
    print(f"{'build':32} {'time s':>7} {'size MB':>8} {'files':>6} {'numpy':>6} {'size/bare':>10} {'time/bare':>10}")
    for label, took, size, count, numpy in rows:
        print(f"{label:32} {took:7.1f} {size / 1e6:8.1f} {count:6d} {'yes' if numpy else 'no':>6} "
              f"{size / bare[2]:10.2f} {took / bare[1]:10.2f}")


if __name__ == "__main__":
    main()
