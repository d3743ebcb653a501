#!/usr/bin/env bash
# Install (first time) and start the posture-agent tray agent, or run any other command:
# scripts/run.sh drills. Data goes to the user's data folder. When nothing changed since the last
# install it starts about as fast as the installed command (bootstrap.sh skips pip).
# After the first install, `posture-agent` is a command of its own: a link in ~/.local/bin (when
# that folder is, or will be at the next login, on PATH), or the exact line to add is said once.
# POSTURE_AGENT_NO_LINK=1 leaves ~/.local/bin alone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run

link_command() {
  local bin="$HOME/.local/bin" target="$PWD/.venv/bin/posture-agent" said=".venv/.path-said"
  local link="$bin/posture-agent"
  [ -n "${POSTURE_AGENT_NO_LINK:-}" ] && return 0
  [ "$(readlink "$link" 2>/dev/null)" = "$target" ] && return 0  # the usual case: nothing to do
  [ -e "$said" ] && return 0
  : > "$said"
  if [ -e "$link" ] || [ -L "$link" ]; then
    echo "posture-agent: $link already exists (not this checkout's); run this one as $target" >&2
    return 0
  fi
  local on_path=no will_be=no
  case ":$PATH:" in *":$bin:"* | *":$bin/:"*) on_path=yes ;; esac
  # Debian's and Ubuntu's ~/.profile put ~/.local/bin on PATH at login once the folder exists
  grep -qs '\.local/bin' "$HOME/.profile" "$HOME/.bash_profile" "$HOME/.bashrc" "$HOME/.zshrc" "$HOME/.zprofile" \
    && will_be=yes
  if ! mkdir -p "$bin" 2>/dev/null || ! ln -s "$target" "$link" 2>/dev/null; then
    echo "posture-agent: could not link $link; run the program as $target" >&2
    return 0
  fi
  if [ "$on_path" = yes ]; then
    echo "posture-agent: 'posture-agent' is now a command ($link -> $target)" >&2
  elif [ "$will_be" = yes ]; then
    echo "posture-agent: 'posture-agent' is a command from your next login ($link); until then: $target" >&2
  else
    echo "posture-agent: linked $link; to run it as 'posture-agent', add this line to ~/.profile and log in again:" >&2
    echo "  export PATH=\"\$HOME/.local/bin:\$PATH\"" >&2
  fi
}
link_command
exec .venv/bin/posture-agent "${@:-start}"
