"""The Tk windows the tray opens. Each takes plain data and callbacks (never a session), is built
on the UI thread by `ui.dispatcher`, and can be used with the keyboard alone."""
