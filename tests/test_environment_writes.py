"""The agent changes its own environment only on the main thread, before its other threads start.

Why: C's getenv is not safe against a setenv on another thread (glibc may move the table while it
is read), and GLib's threads read the environment. A `PYSTRAY_BACKEND` set on the tray's thread once
crashed the agent at start with SIGSEGV (found under libfaketime, which reads the environment on
every wait for the interpreter lock). This lists every write in the package, read from the source,
against the places known to run before any thread.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "posture_agent"
WRITES = {"__setitem__", "__delitem__", "setdefault", "update", "pop", "clear", "putenv", "unsetenv"}
BEFORE_ANY_THREAD = {
    ("cli.py", "run"),  # the console script's first line
    ("app.py", "__init__"),  # App: made by `dock` before the tray's thread starts
    ("ui/tray.py", "__init__"),  # Tray: made by App.__init__ (through TraySide), before `start`
}


def environment_writes() -> set[tuple[str, str]]:
    """(file, enclosing function) of every write to os.environ or call of os.putenv/unsetenv."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if is_environment_write(node):
                    found.add((path.relative_to(PACKAGE).as_posix(), func.name))
    return found


def is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def is_environment_write(node: ast.AST) -> bool:
    if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        return any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in WRITES and is_environ(node.func.value):
            return True
        return node.func.attr in {"putenv", "unsetenv"} and isinstance(node.func.value, ast.Name)
    return False


def test_the_environment_is_changed_only_before_threads_start() -> None:
    writes = environment_writes()
    assert writes, "the reader finds the known writes"
    assert writes <= BEFORE_ANY_THREAD, sorted(writes - BEFORE_ANY_THREAD)


def test_the_reader_sees_a_write_on_another_thread() -> None:
    """The check can fail: the write that crashed the agent, as it was, is found."""
    tree = ast.parse("import os\ndef _make_icon(self):\n    os.environ['PYSTRAY_BACKEND'] = self.backend\n")
    assert any(is_environment_write(node) for node in ast.walk(tree))
