#!/usr/bin/env bash
# Creates .venv and installs posture-agent into it; shared by run.sh and test.sh.
# Usage: scripts/bootstrap.sh [test]   ("test" adds the test tools and the desktop used by tests)
# On Debian/Ubuntu as root, missing system packages are installed with apt; otherwise they are
# listed and the parts that need them are skipped (the CLI always works).
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}
PY=${PYTHON:-python3}
say() { echo "posture-agent: $*" >&2; }

# Nothing changed since the last install (the same pyproject.toml and this script, for this kind of
# install, or for `test`, which has everything `run` needs): nothing to do, so `scripts/run.sh`
# starts about as fast as the installed command. The code itself is installed editable: a change to
# it needs no install.
key=$(cat pyproject.toml scripts/bootstrap.sh | cksum)
installed() { [ -x .venv/bin/posture-agent ] && [ "$(cat ".venv/.installed-$1" 2>/dev/null)" = "$key" ]; }
if installed "$want" || { [ "$want" = run ] && installed test; }; then
  exit 0
fi
started=$SECONDS

# System packages: the tray menu (PyGObject + AppIndicator), notifications (dunst is only for tests),
# Tk windows, and for tests a virtual desktop and a headless browser.
RUN_PKGS="python3-tk gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config libdbus-1-dev libglib2.0-dev libnotify-bin libxcb-screensaver0"
TEST_PKGS="xvfb xdotool x11-utils imagemagick trayer dunst dbus-x11 chromium desktop-file-utils binutils faketime syncthing"
pkgs=$RUN_PKGS; [ "$want" = test ] && pkgs="$RUN_PKGS $TEST_PKGS"
if command -v dpkg-query >/dev/null 2>&1; then
  missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done | tr '\n' ' ')
  if [ -n "${missing// /}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing system packages with apt (about a minute): $missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null || true
      apt-get install -y -qq --no-install-recommends $missing >/dev/null || echo "apt-get could not install: $missing (the parts that need them will be skipped)"
    else
      say "missing system packages (install them for the tray menu and the desktop tests): $missing"
    fi
  fi
fi

if [ -x .venv/bin/posture-agent ]; then
  say "pyproject.toml or this script changed since the last install: updating .venv (usually under a minute)"
else
  say "first install into .venv: the libraries are downloaded (and PyGObject compiled where the tray menu needs it); about 1 to 4 minutes"
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
extras=""
[ "$want" = test ] && extras="test"
# PyGObject and dbus-python compile against system libraries: add them when those are present.
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists gobject-introspection-1.0 cairo dbus-1 2>/dev/null; then
  extras="${extras:+$extras,}linux-desktop"
fi
# pip's and setuptools' own messages go to a log, shown only when the install fails.
say "installing posture-agent and its libraries with pip${extras:+ (extras: $extras)}; its log: .venv/install.log"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}" >.venv/install.log 2>&1; then
  tail -n 40 .venv/install.log >&2
  echo "bootstrap: installing posture-agent into .venv failed (the whole log: .venv/install.log)" >&2
  exit 1
fi
echo "$key" > ".venv/.installed-$want"
say "installed into .venv in $((SECONDS - started)) s"
