"""The Tk windows the tray opens. Each takes plain data and callbacks (never a session), is built
in a window process of its own (`posture_agent/window_process.py`), and can be used with the
keyboard alone."""
