#!/usr/bin/env bash
# Creates .venv and installs posture-agent into it; shared by run.sh and test.sh.
# Usage: scripts/bootstrap.sh [run|gtk-tray|test]
#   run       nothing to compile: the tray is served over D-Bus where the panel hosts StatusNotifierItem
#             icons (KDE, XFCE, GNOME with AppIndicator, Cinnamon, MATE, Budgie, LXQt)
#   gtk-tray  adds PyGObject (compiled) for XEmbed-only trays; also chosen by `run` when no
#             StatusNotifierItem host can be expected on this desktop
#   test      adds the test tools, the desktop used by tests, and PyGObject (its tests need it)
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

# A StatusNotifierItem host: its watcher on the session bus now, or a desktop known to have one.
sni_expected() {
  if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/bus" ]; then  # never autolaunch a bus
    dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
      string:org.kde.StatusNotifierWatcher 2>/dev/null | grep -q 'boolean true' && return 0
  fi
  case "${XDG_CURRENT_DESKTOP:-}" in *KDE*|*XFCE*|*GNOME*|*Unity*|*Cinnamon*|*X-Cinnamon*|*MATE*|*Budgie*|*LXQt*) return 0;; esac
  [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]  # no desktop here at all: nothing to guess from, nothing compiled
}
gtk=no
case "$want" in
  gtk-tray|test) gtk=yes ;;
  *) if ! sni_expected; then gtk=yes
       echo "no StatusNotifierItem tray host expected on this desktop: installing the gtk-tray extra (PyGObject, compiled)"
     fi ;;
esac

# System packages: Tk windows, notify-send (a fallback), X11 idle time; PyGObject's build and GTK's
# typelibs for the gtk-tray extra; for tests a virtual desktop with both kinds of tray and a headless browser.
RUN_PKGS="python3-tk libnotify-bin libxcb-screensaver0"
GTK_PKGS="gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config"
TEST_PKGS="xvfb xdotool x11-utils imagemagick trayer xfce4-panel dunst dbus-x11 chromium desktop-file-utils binutils faketime syncthing"
pkgs=$RUN_PKGS; [ "$gtk" = yes ] && pkgs="$pkgs $GTK_PKGS"; [ "$want" = test ] && pkgs="$pkgs $TEST_PKGS"
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
  if [ "$gtk" = yes ]; then
    say "first install into .venv: the libraries are downloaded and PyGObject is compiled; about 2 to 4 minutes"
  else
    say "first install into .venv: the libraries are downloaded, nothing to compile; about a minute"
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
extras=""
[ "$want" = test ] && extras="test,camera"  # CI runs the camera tests too
# PyGObject compiles against system libraries: added when wanted and those are present.
if [ "$gtk" = yes ]; then
  if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists gobject-introspection-1.0 cairo 2>/dev/null; then
    extras="${extras:+$extras,}gtk-tray"
  else
    echo "the gtk-tray extra needs: $GTK_PKGS (install them, then run scripts/bootstrap.sh gtk-tray)"
  fi
fi
# pip's and setuptools' own messages go to a log, shown only when the install fails.
say "installing posture-agent and its libraries with pip${extras:+ (extras: $extras)}; its log: .venv/install.log"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}" >.venv/install.log 2>&1; then
  tail -n 40 .venv/install.log >&2
  echo "bootstrap: installing posture-agent into .venv failed (the whole log: .venv/install.log)" >&2
  exit 1
fi
# Bytecode for the checkout's own package (pip compiles the dependencies): with PYTHONDONTWRITEBYTECODE
# set, nothing else would write it, and every start would compile the package again.
.venv/bin/python -m compileall -q -j 0 posture_agent >/dev/null || true
echo "$key" > ".venv/.installed-$want"
say "installed into .venv in $((SECONDS - started)) s"
