from posture_agent.cli import run

run()
