"""The tray icon served over D-Bus as a StatusNotifierItem with a `com.canonical.dbusmenu` menu: a
pystray backend of our own (`Icon`), for Linux desktops whose panel hosts such items (KDE Plasma,
XFCE, GNOME with the AppIndicator extension, Cinnamon, MATE, Budgie, LXQt).

Why not pystray's own backends there: they need PyGObject and GTK in the resident agent (compiled
at install time, and most of its memory) only to hand an icon and a menu to the panel, which then
draws both itself from what the item says over D-Bus. Here the item says it directly, on a jeepney
connection of its own (`session_bus.py`). The app keeps pystray's API: `Icon` is a
`pystray._base.Icon`, the menu pystray's `Menu`/`MenuItem`. pystray's backends stay for Windows,
macOS and XEmbed-only trays (ui/tray_backend.py chooses).

On the bus (ui/sni_protocol.py has the shapes: the freedesktop StatusNotifierItem spec and
libdbusmenu's interface):
- the item at `/StatusNotifierItem` under a name of its own, `org.kde.StatusNotifierItem-PID-1`,
  registered with `org.kde.StatusNotifierWatcher`, and again whenever that name gets a new owner
  (the panel restarted); hiding the icon releases the name, and the watcher drops the item. Its
  icon is `IconPixmap` (ARGB32, network byte order, several sizes: `ui/icon.Pixmaps`), its
  `Title` and `ToolTip` pystray's title; a click (`Activate`) runs the menu's default item;
- the menu at `/MenuBar`: `GetLayout` walks it, `Event` "clicked" runs an item, each change bumps
  the revision and emits `LayoutUpdated`, so a menu open on screen follows (in place: ids are kept).

Threads: jeepney's receiver thread answers the host's calls from the menu as last built (never
blocking); clicks and `Activate` run the pystray callbacks on the tray's thread (the one in
`run()`), as pystray's GTK backends do. A bus that goes away ends `run()` with `SessionBusLost`.

Import this module only once `PYSTRAY_BACKEND=dummy` is set (ui/tray.py does): `import pystray`
otherwise loads a toolkit backend of its own choosing.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from pystray import _base

from posture_agent.session_bus import (
    CALL_TIMEOUT_S,
    DBusAddress,
    Handoff,
    HeaderFields,
    MatchRule,
    MessageFlag,
    bus_proxy,
    new_error,
    new_method_call,
    new_method_return,
    new_signal,
    open_router,
    unwrap_msg,
)
from posture_agent.ui.icon import Pixmaps, pixmaps_from_images
from posture_agent.ui.sni_protocol import (
    DBUS,
    DO_NOT_QUEUE,
    INTROSPECTABLE,
    ITEM,
    ITEM_PATH,
    ITEM_PROPERTIES,
    MENU,
    MENU_PATH,
    MENU_PROPERTIES,
    PEER,
    PROPERTIES,
    WATCHER,
    WATCHER_PATH,
    CallError,
    MenuModel,
    Reply,
    SessionBusLost,
    Variant,
    introspection,
)

log = logging.getLogger(__name__)

REGISTER_TRIES = 3
RETRY_S = 1.0
"""A watcher that refuses the item (its panel still starting) is asked again, this far apart."""


class Icon(_base.Icon):  # type: ignore[misc]
    """pystray's Icon, served as a StatusNotifierItem. `icon` takes a Pillow image as pystray's
    backends do, or `ui/icon.Pixmaps` (the shipped pixels: no Pillow in the process)."""

    HAS_DEFAULT_ACTION = True
    HAS_MENU = True
    HAS_MENU_RADIO = True
    HAS_NOTIFICATION = False

    def __init__(self, name: str, icon: Any = None, title: str | None = None, menu: Any = None,
                 **kwargs: Any) -> None:
        self._router: Any = None
        self._filters: list[Any] = []
        self._tasks: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._model = MenuModel(_base.Menu.SEPARATOR)
        self._pixmaps: list[tuple[int, int, bytes]] = []
        self._bus_name = f"{ITEM}-{os.getpid()}-1"
        self._name_owned = False
        self._closing = False
        self.registered = threading.Event()
        """Set while the watcher (the panel) has the item; cleared when it goes."""
        super().__init__(name, icon=icon, title=title, menu=menu, **kwargs)

    # pystray's backend interface -----------------------------------------------------------------

    def _run(self) -> None:
        self._connect()
        self._mark_ready()
        try:
            while True:
                task = self._tasks.get()
                if task is None:
                    break
                task()
        finally:
            self._disconnect()

    def _run_detached(self) -> None:
        raise NotImplementedError("the StatusNotifierItem icon runs its own loop: use run()")

    def _stop(self) -> None:
        self._tasks.put(None)

    def _show(self) -> None:
        self._register(REGISTER_TRIES)

    def _hide(self) -> None:
        """Release the item's name: the watcher drops the item from the panel."""
        router, self._name_owned = self._router, False
        self.registered.clear()
        if router is None:
            return
        try:
            bus_proxy(router).ReleaseName(self._bus_name)
        except Exception as exc:  # the bus already gone: the item went with it
            log.info("the tray item's name was not released: %s: %s", type(exc).__name__, exc)

    def _update_icon(self) -> None:
        value = self.icon
        pixmaps = value if isinstance(value, Pixmaps) else pixmaps_from_images([value])
        self._pixmaps = list(pixmaps.sizes)
        self._icon_valid = True
        self._emit(ITEM_PATH, ITEM, "NewIcon")

    def _update_title(self) -> None:
        self._emit(ITEM_PATH, ITEM, "NewTitle")
        self._emit(ITEM_PATH, ITEM, "NewToolTip")

    def _update_menu(self) -> None:
        if self._model.rebuild(self.menu):
            self._emit(MENU_PATH, MENU, "LayoutUpdated", "ui", (self._model.revision, 0))

    def _notify(self, message: str, title: str | None = None) -> None:
        raise NotImplementedError("notifications go through the agent's notifier")

    def _remove_notification(self) -> None:
        raise NotImplementedError("notifications go through the agent's notifier")

    # the connection ----------------------------------------------------------------------------------

    def _connect(self) -> None:
        router = open_router(on_end=self._ended)
        self._router = router
        self._filters.append(router.filter(MatchRule(type="method_call"), queue=Handoff(self._answer)))
        watched = MatchRule(type="signal", sender=DBUS, interface=DBUS, member="NameOwnerChanged",
                            path="/org/freedesktop/DBus")
        watched.add_arg_condition(0, WATCHER)
        bus_proxy(router).AddMatch(watched)
        self._filters.append(router.filter(watched, queue=Handoff(self._watcher_changed)))

    def _disconnect(self) -> None:
        self._closing = True
        self.registered.clear()
        router, self._router = self._router, None
        filters, self._filters = self._filters, []
        for handle in filters:
            handle.close()
        if router is not None:
            router.close()
            router.conn.close()  # the watcher sees the item's connection go, and drops it

    def _ended(self) -> None:
        """On the receiver thread as it stops: unexpected unless `_disconnect` closed it."""
        if not self._closing:
            self.registered.clear()
            self._tasks.put(self._lost)

    @staticmethod
    def _lost() -> None:
        raise SessionBusLost("the session bus connection closed")

    def _register(self, tries: int = 1) -> None:
        """Own the item's name (once) and hand it to the watcher; no watcher now is not an error:
        `_watcher_changed` registers when one appears. A refusal (a panel still starting) is tried
        again `tries - 1` times, RETRY_S apart. Not on the receiver thread (it waits for replies)."""
        router = self._router
        if router is None:
            return
        try:
            if not self._name_owned:
                (result,) = bus_proxy(router).RequestName(self._bus_name, DO_NOT_QUEUE)
                self._name_owned = result in (1, 4)  # primary owner, or already owned by us
            watcher = DBusAddress(WATCHER_PATH, bus_name=WATCHER, interface=WATCHER)
            unwrap_msg(router.send_and_get_reply(
                new_method_call(watcher, "RegisterStatusNotifierItem", "s", (self._bus_name,)),
                timeout=CALL_TIMEOUT_S))
        except Exception as exc:  # no watcher yet, a watcher that does not answer: it may come later
            self.registered.clear()
            log.info("the tray item is not registered yet (%s: %s); it will be when a panel appears",
                     type(exc).__name__, exc)
            if tries > 1 and not self._closing:
                again = threading.Timer(RETRY_S, lambda: self._tasks.put(lambda: self._register(tries - 1)))
                again.daemon = True
                again.start()
            return
        self.registered.set()
        log.info("tray item %s registered with %s", self._bus_name, WATCHER)

    def _watcher_changed(self, message: Any) -> None:
        """NameOwnerChanged for the watcher's name (receiver thread): a new owner is a (re)started
        panel, which knows nothing of us yet."""
        _name, _old, new = message.body
        if not new:
            self.registered.clear()
            log.info("the tray host went away; the item registers again when it is back")
        elif self.visible:
            self._tasks.put(lambda: self._register(REGISTER_TRIES))

    def _emit(self, path: str, interface: str, member: str, signature: str | None = None,
              body: tuple[Any, ...] = ()) -> None:
        router = self._router
        if router is None:
            return
        try:
            router.send(new_signal(DBusAddress(path, interface=interface), member, signature, body))
        except OSError as exc:
            log.info("tray signal %s not sent: %s", member, exc)

    # the host's calls (receiver thread) ------------------------------------------------------------

    def _answer(self, message: Any) -> None:
        fields = message.header.fields
        path, member = fields.get(HeaderFields.path), fields.get(HeaderFields.member)
        interface = fields.get(HeaderFields.interface)
        try:
            signature, body = self._call(path, interface, member, message.body)
            reply = new_method_return(message, signature, body)
        except CallError as exc:
            reply = new_error(message, exc.name, "s", (str(exc),))
        except Exception as exc:  # arguments of another shape than the spec's: the caller still hears
            log.info("tray call %s at %s failed: %s: %s", member, path, type(exc).__name__, exc)
            reply = new_error(message, "org.freedesktop.DBus.Error.InvalidArgs", "s", (f"{type(exc).__name__}: {exc}",))
        if message.header.flags & MessageFlag.no_reply_expected:
            return
        router = self._router
        if router is not None:
            router.send(reply)

    def _call(self, path: str, interface: str | None, member: str, args: tuple[Any, ...]) -> Reply:
        if interface == PEER and member == "Ping":
            return "", ()
        if member == "Introspect" and interface in (None, INTROSPECTABLE):
            return "s", (introspection(path),)
        if interface in (None, PROPERTIES) and member in ("Get", "GetAll", "Set"):
            return self._properties_call(path, member, args)
        if path == ITEM_PATH and interface in (None, ITEM):
            return self._item_call(member, args)
        if path == MENU_PATH and interface in (None, MENU):
            return self._model.call(member, args, self._clicked)
        raise CallError("org.freedesktop.DBus.Error.UnknownMethod", f"no {interface}.{member} at {path}")

    def _properties_call(self, path: str, member: str, args: tuple[Any, ...]) -> Reply:
        table = self._item_properties() if path == ITEM_PATH else self._menu_properties() if path == MENU_PATH else {}
        if member == "GetAll":
            return "a{sv}", (table if args and args[0] in (ITEM, MENU) else {},)
        if member == "Set":
            raise CallError("org.freedesktop.DBus.Error.PropertyReadOnly", "the tray item's properties are read-only")
        name = args[1] if len(args) > 1 else ""
        if name not in table:
            raise CallError("org.freedesktop.DBus.Error.UnknownProperty", f"no property {name!r} at {path}")
        return "v", (table[name],)

    def _item_properties(self) -> dict[str, Variant]:
        title = str(self.title or self.name)
        values: dict[str, Any] = {
            "Category": "ApplicationStatus", "Id": str(self.name), "Title": title, "Status": "Active",
            "WindowId": 0, "IconPixmap": self._pixmaps, "ToolTip": ("", [], title, ""), "ItemIsMenu": False,
            "Menu": MENU_PATH,
        }
        empty = {"a": [], "s": ""}  # the names and pixmaps not used: empty
        return {name: (sig, values[name] if name in values else empty[sig[0]]) for name, sig in ITEM_PROPERTIES.items()}

    @staticmethod
    def _menu_properties() -> dict[str, Variant]:
        values: dict[str, Any] = {"Version": 3, "TextDirection": "ltr", "Status": "normal", "IconThemePath": []}
        return {name: (sig, values[name]) for name, sig in MENU_PROPERTIES.items()}

    def _item_call(self, member: str, args: tuple[Any, ...]) -> Reply:
        if member == "Activate":  # a left click: the default item, as pystray's other backends do
            self._tasks.put(self._activate)
        elif member not in ("SecondaryActivate", "ContextMenu", "Scroll", "ProvideXdgActivationToken"):
            raise CallError("org.freedesktop.DBus.Error.UnknownMethod", f"no {ITEM}.{member}")
        return "", ()

    # on the tray's thread ----------------------------------------------------------------------------

    def _clicked(self, item: Any) -> None:
        """A menu item clicked (receiver thread): run it on the tray's thread."""
        self._tasks.put(lambda: self._click(item))

    def _click(self, item: Any) -> None:
        try:
            item(self)
        except Exception:  # as a GTK signal handler's error: logged, the tray goes on
            log.exception("tray menu item %r failed", str(item.text))
        self.update_menu()

    def _activate(self) -> None:
        try:
            self()  # pystray: the menu's default item, then update_menu
        except Exception:
            log.exception("the tray's default action failed")

