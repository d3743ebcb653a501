"""The few X requests presence makes (an atom, a window property, the MIT-SCREEN-SAVER info), through
libxcb by ctypes: no Python X library in the resident (python-xlib's Display imports a module for
every extension the server has, over 3 MB).

XCB rather than Xlib because XCB hands a request's error back with its reply and reports a lost
server as the connection's state, where Xlib sends both to process-wide handlers whose defaults
exit the process (and the tray's GTK installs its own). libxcb comes with every X11 client library;
the screen-saver request is in libxcb-screensaver (Debian/Ubuntu: libxcb-screensaver0), loaded only
for the idle signal, so without it the fullscreen signal still works.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_uint, c_uint8, c_uint16, c_uint32, c_void_p
from typing import Any, TypeVar

XCB = "libxcb.so.1"
XCB_SCREENSAVER = "libxcb-screensaver.so.0"
BAD_WINDOW = 3
"""The X error code for a window that no longer exists."""
ANY_PROPERTY_TYPE = 0
T = TypeVar("T")


class XError(Exception):
    """An X request failed or the connection is lost (the message says which)."""


class WindowGone(XError):
    """The window asked about no longer exists (closed between two requests)."""


class NoExtension(XError):
    """The server or this machine lacks what a request needs (the message says what)."""


class _Extension(Structure):
    _fields_ = [("name", c_char_p), ("global_id", c_int)]  # xcb_extension_t


class _Screen(Structure):
    _fields_ = [("root", c_uint32)]  # the first field of xcb_screen_t; nothing else is read


class _ScreenIterator(Structure):
    _fields_ = [("data", POINTER(_Screen)), ("rem", c_int), ("index", c_int)]


class _Cookie(Structure):
    _fields_ = [("sequence", c_uint)]


class _Error(Structure):
    _fields_ = [("response_type", c_uint8), ("error_code", c_uint8), ("sequence", c_uint16),
                ("resource_id", c_uint32), ("minor_code", c_uint16), ("major_code", c_uint8)]


class _Header(Structure):
    _fields_ = [("response_type", c_uint8), ("byte1", c_uint8), ("sequence", c_uint16), ("length", c_uint32)]


class _InternAtomReply(Structure):
    _fields_ = [("header", _Header), ("atom", c_uint32)]


class _GetPropertyReply(Structure):
    _fields_ = [("header", _Header), ("type", c_uint32), ("bytes_after", c_uint32), ("value_len", c_uint32)]


class _QueryExtensionReply(Structure):
    _fields_ = [("header", _Header), ("present", c_uint8), ("major_opcode", c_uint8)]


class _ScreenSaverInfoReply(Structure):
    _fields_ = [("header", _Header), ("saver_window", c_uint32), ("ms_until_server", c_uint32),
                ("ms_since_user_input", c_uint32)]


def _declare(lib: Any, name: str, restype: Any, *argtypes: Any) -> None:
    function = getattr(lib, name)
    function.restype, function.argtypes = restype, list(argtypes)


@functools.cache
def libxcb() -> Any:
    """libxcb with the signatures used here (loaded once, at the first X check). Raises OSError."""
    lib = ctypes.CDLL(XCB)
    conn, reply = c_void_p, c_void_p
    error_out = POINTER(POINTER(_Error))
    _declare(lib, "xcb_connect", conn, c_char_p, POINTER(c_int))
    _declare(lib, "xcb_connection_has_error", c_int, conn)
    _declare(lib, "xcb_disconnect", None, conn)
    _declare(lib, "xcb_get_setup", c_void_p, conn)
    _declare(lib, "xcb_setup_roots_iterator", _ScreenIterator, c_void_p)
    _declare(lib, "xcb_screen_next", None, POINTER(_ScreenIterator))
    _declare(lib, "xcb_get_extension_data", POINTER(_QueryExtensionReply), conn, POINTER(_Extension))
    _declare(lib, "xcb_intern_atom", _Cookie, conn, c_uint8, c_uint16, c_char_p)
    _declare(lib, "xcb_intern_atom_reply", POINTER(_InternAtomReply), conn, _Cookie, error_out)
    _declare(lib, "xcb_get_property", _Cookie, conn, c_uint8, c_uint32, c_uint32, c_uint32, c_uint32, c_uint32)
    _declare(lib, "xcb_get_property_reply", POINTER(_GetPropertyReply), conn, _Cookie, error_out)
    _declare(lib, "xcb_get_property_value", c_void_p, reply)
    _declare(lib, "xcb_get_property_value_length", c_int, reply)
    return lib


@functools.cache
def _free() -> Any:
    """The C library's free(): XCB's replies and errors are the caller's to free."""
    libc = ctypes.CDLL(None)  # the process's own C library
    _declare(libc, "free", None, c_void_p)
    return libc.free


@functools.cache
def libxcb_screensaver() -> Any:
    try:
        lib = ctypes.CDLL(XCB_SCREENSAVER)
    except OSError:
        raise NoExtension(f"{XCB_SCREENSAVER} is not installed (Debian/Ubuntu: libxcb-screensaver0)") from None
    _declare(lib, "xcb_screensaver_query_info", _Cookie, c_void_p, c_uint32)
    _declare(lib, "xcb_screensaver_query_info_reply", POINTER(_ScreenSaverInfoReply), c_void_p, _Cookie,
             POINTER(POINTER(_Error)))
    return lib


class Connection:
    """One connection to an X display. Not locked: its one user (`x11.X11Connection`) locks."""

    def __init__(self, name: str | None) -> None:
        self.xcb = libxcb()
        screen = c_int(0)
        self._conn = self.xcb.xcb_connect(name.encode() if name else None, byref(screen))
        if self.xcb.xcb_connection_has_error(self._conn):
            self.close()
            raise XError(f"cannot connect to X display {name or '(DISPLAY unset)'}")
        roots = self.xcb.xcb_setup_roots_iterator(self.xcb.xcb_get_setup(self._conn))
        for _ in range(screen.value):
            self.xcb.xcb_screen_next(byref(roots))
        self.root = int(roots.data.contents.root)
        self._atoms: dict[str, int] = {}

    def close(self) -> None:
        if self._conn:
            self.xcb.xcb_disconnect(self._conn)  # frees it, whatever its state
            self._conn = None

    def atom(self, name: str) -> int:
        """The atom of `name`, 0 when no client has made it (so no window can have it)."""
        if name not in self._atoms:
            raw = name.encode()
            cookie = self.xcb.xcb_intern_atom(self._conn, 1, len(raw), raw)
            atom = self._reply(self.xcb.xcb_intern_atom_reply, cookie, lambda r: int(r.atom))
            if not atom:
                return 0  # not kept: a client may make it later
            self._atoms[name] = atom
        return self._atoms[name]

    def cardinals(self, window: int, name: str, most: int = 64) -> tuple[int, ...] | None:
        """A 32-bit property of `window` (a window id, atoms) as numbers; None when it is not set.
        Raises WindowGone when the window no longer exists."""
        atom = self.atom(name)
        if not atom:
            return None
        cookie = self.xcb.xcb_get_property(self._conn, 0, window, atom, ANY_PROPERTY_TYPE, 0, most)

        def values(reply: Any) -> tuple[int, ...] | None:
            if reply.type == 0:
                return None
            count = self.xcb.xcb_get_property_value_length(ctypes.addressof(reply)) // 4
            data = ctypes.cast(self.xcb.xcb_get_property_value(ctypes.addressof(reply)), POINTER(c_uint32))
            return tuple(int(data[i]) for i in range(count))

        return self._reply(self.xcb.xcb_get_property_reply, cookie, values)

    def screensaver_info(self) -> tuple[int, int]:
        """(state, milliseconds since the last input) of the MIT-SCREEN-SAVER extension."""
        lib = libxcb_screensaver()
        extension = self.xcb.xcb_get_extension_data(self._conn, byref(_Extension.in_dll(lib, "xcb_screensaver_id")))
        if not extension:
            raise XError(self._lost())
        if not extension.contents.present:
            raise NoExtension("the X server has no MIT-SCREEN-SAVER extension")
        cookie = lib.xcb_screensaver_query_info(self._conn, self.root)
        return self._reply(lib.xcb_screensaver_query_info_reply, cookie,
                           lambda r: (int(r.header.byte1), int(r.ms_since_user_input)))

    def _reply(self, get: Any, cookie: Any, read: Callable[[Any], T]) -> T:
        """`read(reply)` of a request's reply, freed after; its X error raised as XError."""
        error = POINTER(_Error)()
        reply = get(self._conn, cookie, byref(error))
        if error:
            code = int(error.contents.error_code)
            _free()(error)
            if code == BAD_WINDOW:
                raise WindowGone("the window no longer exists")
            raise XError(f"X error {code}")
        if not reply:
            raise XError(self._lost())
        try:
            return read(reply.contents)
        finally:
            _free()(reply)

    def _lost(self) -> str:
        return f"the X connection is lost (XCB error {self.xcb.xcb_connection_has_error(self._conn)})"
