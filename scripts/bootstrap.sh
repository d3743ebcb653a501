#!/usr/bin/env bash
# Creates .venv and installs posture-agent into it; shared by run.sh and test.sh.
# Usage: scripts/bootstrap.sh [test]   ("test" adds the test tools and the desktop used by tests)
# On Debian/Ubuntu as root, missing system packages are installed with apt; otherwise they are
# listed and the parts that need them are skipped (the CLI always works).
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}
PY=${PYTHON:-python3}

# System packages: the tray menu (PyGObject + AppIndicator), notifications (dunst is only for tests),
# Tk windows, and for tests a virtual desktop and a headless browser.
RUN_PKGS="python3-tk gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config libdbus-1-dev libglib2.0-dev libnotify-bin libxcb-screensaver0"
TEST_PKGS="xvfb xdotool x11-utils imagemagick trayer dunst dbus-x11 chromium desktop-file-utils binutils faketime syncthing"
pkgs=$RUN_PKGS; [ "$want" = test ] && pkgs="$RUN_PKGS $TEST_PKGS"
if command -v dpkg-query >/dev/null 2>&1; then
  missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done | tr '\n' ' ')
  if [ -n "${missing// /}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing system packages: $missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null || true
      apt-get install -y -qq --no-install-recommends $missing >/dev/null || echo "apt-get could not install: $missing (the parts that need them will be skipped)"
    else
      echo "missing system packages (install them for the tray menu and the desktop tests): $missing"
    fi
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
extras=""
[ "$want" = test ] && extras="test,camera"  # CI runs the camera tests too
# PyGObject and dbus-python compile against system libraries: add them when those are present.
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists gobject-introspection-1.0 cairo dbus-1 2>/dev/null; then
  extras="${extras:+$extras,}linux-desktop"
fi
# pip's and setuptools' own messages go to a log, shown only when the install fails.
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}" >.venv/install.log 2>&1; then
  tail -n 40 .venv/install.log >&2
  echo "bootstrap: installing posture-agent into .venv failed (the whole log: .venv/install.log)" >&2
  exit 1
fi
