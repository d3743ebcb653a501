"""posture-agent: posture nudges, drills and recovery rules for runners who sit all day."""

__version__ = "0.1.0"

WINDOW_PROCESS = "--window-process"
"""First argument that makes the program a prompt's window process (posture_agent/window_process.py):
a frozen build has no `python -m`, so the agent starts its own executable with it."""

CALENDAR_PROCESS = "--calendar-process"
"""First argument that makes the program the calendar's expanding child (posture_agent/presence/ics.py):
the agent starts it when a calendar file changes or a day begins, and never imports icalendar itself."""

CAMERA_PROCESS = "--camera-process"
"""First argument that makes the program a camera check's child process (posture_agent/camera/probe.py):
a frozen build has no `python -m`, so the agent and the command line start their own executable with it."""

WORKER_PROCESS = "--worker-process"
"""First argument that makes the program the resident agent's worker process (posture_agent/worker.py):
the database work of `posture-agent start`, so that the resident never loads the store."""
