"""What a StatusNotifierItem and its com.canonical.dbusmenu menu say on the session bus: the names,
paths and property types (the freedesktop StatusNotifierItem spec, libdbusmenu's interface), the menu
as the host sees it (`MenuModel`: ids, revisions, the dbusmenu calls answered), and the
introspection XML. No connection and no pystray here: ui/sni.py serves these on jeepney, and the
tests' own host (tests/sni_host.py) reads them.

Ids in the menu stay the same for the same label at the same place across rebuilds, so a host
updates a menu open on screen in place when `LayoutUpdated` announces a new revision; ids of labels
gone are never given again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
MENU_PATH = "/MenuBar"
PROPERTIES = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"
DBUS = "org.freedesktop.DBus"
DO_NOT_QUEUE = 4
"""RequestName's flag: fail at once rather than wait in line for a name someone else owns."""

Variant = tuple[str, Any]
"""A D-Bus variant as jeepney writes it: (signature, value)."""
Layout = tuple[int, dict[str, Variant], list[Variant]]
"""A menu entry as GetLayout sends it: (id, properties, children as variants of the same shape)."""
Reply = tuple[str, tuple[Any, ...]]
"""A method's reply: (signature, body)."""


class SessionBusLost(RuntimeError):
    """The session bus connection ended while the icon was shown: the panel can no longer reach it."""


class CallError(Exception):
    """Answered to the caller as a D-Bus error named `name`."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


# --- the menu as the host sees it --------------------------------------------------------------------


@dataclass
class Entry:
    id: int
    props: dict[str, Variant]
    children: list[Entry] = field(default_factory=list)
    item: Any = None
    """The pystray MenuItem it shows (None: the root, a separator)."""

    def shape(self) -> tuple[Any, ...]:
        """What the host sees of it: equal shapes need no new revision."""
        return (self.id, tuple(sorted(self.props.items())), tuple(c.shape() for c in self.children))


def _label(text: str) -> str:
    """dbusmenu reads `_` as a mnemonic mark: a literal underscore is written twice."""
    return text.replace("_", "__")


class MenuModel:
    """A pystray menu turned into dbusmenu entries with ids, and the layout's revision; answers the
    host's com.canonical.dbusmenu calls (`call`). `separator` is pystray's `Menu.SEPARATOR`."""

    def __init__(self, separator: Any) -> None:
        self.separator = separator
        self.revision = 1
        self.root = Entry(0, {"children-display": ("s", "submenu")})
        self.by_id: dict[int, Entry] = {0: self.root}
        self._ids: dict[tuple[int, str, int], int] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def rebuild(self, menu: Any) -> bool:
        """Read `menu` (a pystray Menu, or None) again; True when the host must fetch the layout anew
        (a new revision). Its items' callbacks are the new ones either way."""
        with self._lock:
            used: dict[tuple[int, str, int], int] = {}
            root = Entry(0, dict(self.root.props), self._entries(menu, 0, used))
            changed = root.shape() != self.root.shape()
            self._ids = used  # ids of labels gone are never given again (`_next_id` only grows)
            self.root = root
            self.by_id = {}
            self._index(root)
            if changed:
                self.revision += 1
            return changed

    def _index(self, entry: Entry) -> None:
        self.by_id[entry.id] = entry
        for child in entry.children:
            self._index(child)

    def _entries(self, menu: Any, parent: int, used: dict[tuple[int, str, int], int]) -> list[Entry]:
        if menu is None:
            return []
        out: list[Entry] = []
        seen: dict[str, int] = {}
        for item in menu:  # pystray's visible items, separators already tidied
            separator = item is self.separator
            text = "" if separator else str(item.text)
            key_text = "\0separator" if separator else text
            seen[key_text] = seen.get(key_text, -1) + 1
            key = (parent, key_text, seen[key_text])
            entry_id = self._ids.get(key)
            if entry_id is None:
                entry_id, self._next_id = self._next_id, self._next_id + 1
            used[key] = entry_id
            if separator:
                out.append(Entry(entry_id, {"type": ("s", "separator")}))
                continue
            props: dict[str, Variant] = {"label": ("s", _label(text)), "enabled": ("b", bool(item.enabled))}
            checked = item.checked
            if checked is not None:
                props["toggle-type"] = ("s", "radio" if item.radio else "checkmark")
                props["toggle-state"] = ("i", 1 if checked else 0)
            submenu = item.submenu
            children = self._entries(submenu, entry_id, used) if submenu is not None else []
            if submenu is not None:
                props["children-display"] = ("s", "submenu")
            out.append(Entry(entry_id, props, children, item))
        return out

    def layout(self, parent: int, depth: int, names: Iterable[str]) -> tuple[int, Layout]:
        """GetLayout's answer: (revision, (id, properties, children as variants))."""
        wanted = set(names)
        with self._lock:
            entry = self.by_id.get(parent)
            if entry is None:
                raise CallError("org.freedesktop.DBus.Error.InvalidArgs", f"no menu item {parent}")
            return self.revision, self._layout(entry, depth, wanted)

    def _layout(self, entry: Entry, depth: int, wanted: set[str]) -> Layout:
        props = {k: v for k, v in entry.props.items() if not wanted or k in wanted}
        children: list[Variant] = []
        if depth != 0:
            children = [("(ia{sv}av)", self._layout(c, depth - 1 if depth > 0 else -1, wanted))
                        for c in entry.children]
        return entry.id, props, children

    def properties(self, ids: Iterable[int], names: Iterable[str]) -> list[tuple[int, dict[str, Variant]]]:
        wanted = set(names)
        with self._lock:
            asked = list(ids)
            entries = [self.by_id[i] for i in asked if i in self.by_id] if asked else [
                e for e in self.by_id.values() if e.id != 0]  # none asked: all of them
            return [(e.id, {k: v for k, v in e.props.items() if not wanted or k in wanted}) for e in entries]

    def entry(self, entry_id: int) -> Entry | None:
        with self._lock:
            return self.by_id.get(entry_id)

    def call(self, member: str, args: tuple[Any, ...], clicked: Callable[[Any], object]) -> Reply:
        """A dbusmenu method's reply; a click on an enabled item hands its pystray item to `clicked`."""
        model = self
        if member == "GetLayout":
            parent, depth, names = args
            return "u(ia{sv}av)", model.layout(parent, depth, names)
        if member == "GetGroupProperties":
            ids, names = args
            return "a(ia{sv})", (model.properties(ids, names),)
        if member == "GetProperty":
            entry_id, name = args
            entry = model.entry(entry_id)
            if entry is None or name not in entry.props:
                raise CallError("org.freedesktop.DBus.Error.InvalidArgs", f"no property {name!r} on item {entry_id}")
            return "v", (entry.props[name],)
        if member == "Event":
            entry_id, event, _data, _timestamp = args
            if not self._event(entry_id, event, clicked):
                raise CallError("org.freedesktop.DBus.Error.InvalidArgs", f"no menu item {entry_id}")
            return "", ()
        if member == "EventGroup":
            (events,) = args
            unknown = [entry_id for entry_id, event, _d, _t in events if not self._event(entry_id, event, clicked)]
            return "ai", (unknown,)
        if member == "AboutToShow":
            return "b", (False,)
        if member == "AboutToShowGroup":
            (ids,) = args
            return "aiai", ([], [i for i in ids if model.entry(i) is None])
        raise CallError("org.freedesktop.DBus.Error.UnknownMethod", f"no {MENU}.{member}")

    def _event(self, entry_id: int, event: str, clicked: Callable[[Any], object]) -> bool:
        """A menu event; a click on an enabled item goes to `clicked`. False: no such item."""
        entry = self.entry(entry_id)
        if entry is None:
            return False
        item = entry.item
        if event == "clicked" and item is not None and item.submenu is None and item.enabled:
            clicked(item)
        return True


ITEM_PROPERTIES = {
    "Category": "s", "Id": "s", "Title": "s", "Status": "s", "WindowId": "i", "IconName": "s", "IconThemePath": "s",
    "IconPixmap": "a(iiay)", "OverlayIconName": "s", "OverlayIconPixmap": "a(iiay)", "AttentionIconName": "s",
    "AttentionIconPixmap": "a(iiay)", "AttentionMovieName": "s", "ToolTip": "(sa(iiay)ss)", "ItemIsMenu": "b",
    "Menu": "o",
}
MENU_PROPERTIES = {"Version": "u", "TextDirection": "s", "Status": "s", "IconThemePath": "as"}
ITEM_METHODS = {"Activate": "ii", "SecondaryActivate": "ii", "ContextMenu": "ii", "Scroll": "is"}
MENU_METHODS = {
    "GetLayout": ("iias", "u(ia{sv}av)"), "GetGroupProperties": ("aias", "a(ia{sv})"), "GetProperty": ("is", "v"),
    "Event": ("isvu", ""), "EventGroup": ("a(isvu)", "ai"), "AboutToShow": ("i", "b"),
    "AboutToShowGroup": ("ai", "aiai"),
}
SIGNALS = {ITEM: {"NewTitle": "", "NewIcon": "", "NewToolTip": "", "NewStatus": "s"},
           MENU: {"LayoutUpdated": "ui", "ItemsPropertiesUpdated": "a(ia{sv})a(ias)"}}


def _args(signature: str, direction: str) -> str:
    """One <arg> per complete type in `signature`."""
    out, depth, start = [], 0, 0
    for at, char in enumerate(signature):
        depth += char in "({"
        depth -= char in ")}"
        if depth == 0 and char != "a":
            out.append(f'<arg type="{signature[start:at + 1]}" direction="{direction}"/>')
            start = at + 1
    return "".join(out)


def introspection(path: str) -> str:
    """The D-Bus introspection XML of `path`, made from the tables above (for `gdbus introspect`
    and hosts that look before they call)."""
    if path not in (ITEM_PATH, MENU_PATH):
        children = "".join(f'<node name="{p.strip("/")}"/>' for p in (ITEM_PATH, MENU_PATH)) if path == "/" else ""
        return f"<node>{children}</node>"
    interface, props = (ITEM, ITEM_PROPERTIES) if path == ITEM_PATH else (MENU, MENU_PROPERTIES)
    methods = ({m: (a, "") for m, a in ITEM_METHODS.items()} if path == ITEM_PATH else MENU_METHODS)
    body = "".join(f'<property name="{n}" type="{t}" access="read"/>' for n, t in props.items())
    body += "".join(f'<method name="{m}">{_args(i, "in")}{_args(o, "out")}</method>' for m, (i, o) in methods.items())
    body += "".join(f'<signal name="{n}">{_args(a, "out")}</signal>' for n, a in SIGNALS[interface].items())
    get, get_all = _args("ss", "in") + _args("v", "out"), _args("s", "in") + _args("a{sv}", "out")
    standard = (f'<interface name="{PROPERTIES}"><method name="Get">{get}</method>'
                f'<method name="GetAll">{get_all}</method></interface>'
                f'<interface name="{INTROSPECTABLE}"><method name="Introspect">{_args("s", "out")}</method>'
                '</interface>')
    return f'<node>{standard}<interface name="{interface}">{body}</interface></node>'
