"""What the user sees: the tray icon and menu, and the small Tk windows it opens.

Nothing here opens the database: every window takes plain data and callbacks. The windows run in
processes of their own (`posture_agent/window_process.py`), never in the resident agent. GUI
libraries (pystray, Tk, Xlib) are imported inside functions, so the command line works without a
display.
"""
