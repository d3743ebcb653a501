#!/bin/sh
# Installs this posture-agent folder for the current user: the program under
# ~/.local/opt/posture-agent, a `posture-agent` command in ~/.local/bin, the application-menu entry
# and its icons. Run it from the unpacked folder; run it again to update. No root needed.
# Usage: ./install.sh [--uninstall]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
opt=${POSTURE_AGENT_PREFIX:-$HOME/.local/opt/posture-agent}
bin=${POSTURE_AGENT_BINDIR:-$HOME/.local/bin}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$bin/posture-agent" "$data/applications/posture-agent.desktop"
  find "$data/icons/hicolor" -name posture-agent.png -delete 2>/dev/null || true
  rm -rf "$opt"
  echo "posture-agent removed (your data and config are kept)"
  exit 0
fi

if [ "$here" != "$opt" ]; then
  mkdir -p "$(dirname "$opt")"
  rm -rf "$opt.new"
  cp -a "$here" "$opt.new"
  rm -rf "$opt"
  mv "$opt.new" "$opt"
fi
mkdir -p "$bin" "$data/applications" "$data/icons"
ln -sf "$opt/posture-agent" "$bin/posture-agent"
cp -a "$opt/share/icons/hicolor" "$data/icons/"
# The menu entry starts the installed program by its absolute path, quoted for the Exec key.
exe=$(printf '%s' "$opt/posture-agent" | sed 's/[\\"`$]/\\\\&/g')
sed "s|^Exec=.*|Exec=\"$exe\" start|" "$opt/share/applications/posture-agent.desktop" > "$data/applications/posture-agent.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "installed: $opt (command: $bin/posture-agent; menu: Posture Agent)"
echo "start it at login: $bin/posture-agent autostart enable"
