"""Is the user there and free when a prompt falls due? (issue 14, docs/presence.md)

`base` holds the one interface (`Signal`, `Presence`, `PresenceCheck`); one module per source of
signals (`x11`, `dbus`, `windows`, `macos`, `calendar`); `desktop` picks those this platform offers.
Signals are read only when a prompt is due: nothing here runs between prompts.
"""
