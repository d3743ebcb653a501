"""`python -m posture_agent.camera`: one camera check in a process of its own (see probe.py)."""

import sys

from posture_agent.camera.probe import main

sys.exit(main())
