"""What the user sees: the tray icon and menu, and the small Tk windows it opens.

Nothing here opens the database: every window takes plain data and callbacks, and other threads
reach the UI only through `ui.dispatcher.Dispatcher`. GUI libraries (pystray, Tk, Xlib) are
imported inside functions, so the command line works without a display.
"""
