"""posture-agent: posture nudges, drills and recovery rules for runners who sit all day."""

__version__ = "0.1.0"

WINDOW_PROCESS = "--window-process"
"""First argument that makes the program a prompt's window process (posture_agent/window_process.py):
a frozen build has no `python -m`, so the agent starts its own executable with it."""

CAMERA_PROCESS = "--camera-process"
"""First argument that makes the program a camera check's child process (posture_agent/camera/probe.py),
for the same reason: a frozen build has no `python -m`."""
