"""Opt-in camera check-ins (the `camera` extra): a short burst of frames read in a child process.

Only `probe` (the child's entry) and `vision` import OpenCV; everything the resident agent and the
command line import from here (`measures`, `launch`, `calibration`) is plain Python, so the resident
never maps OpenCV or the model (scripts/import_graph.py checks who may import `vision`).
"""
