"""Saving changed settings into the user's own config file without losing what they wrote.

The file is edited line by line, not re-serialised: comments, blank lines, key order and every
key not being changed stay exactly as they were. A commented-out default (`# start = "09:00"`)
is replaced in place by the new value. The result is checked twice before it replaces the file:
parsed back to prove that only the changed keys changed, and validated by `config.load_settings`;
then it is swapped in atomically (temporary file + `os.replace`), keeping the file's permissions.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from posture_agent.config import ConfigError, Settings, TomlValue, default_text, load_settings, toml_value
from posture_agent.errors import UserError

Value = TomlValue

_KEY = re.compile(r"^(\s*)(#\s*)?([A-Za-z0-9_-]+)\s*=")
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")


def _value_end(lines: list[str], start: int) -> int:
    """Index of the last line of the value that begins on line `start` (arrays may span lines)."""
    depth = 0
    for i in range(start, len(lines)):
        text = lines[i] if i > start else lines[i].split("=", 1)[1]
        text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # brackets inside strings do not count
        text = text.split("#", 1)[0]
        depth += text.count("[") - text.count("]")
        if depth <= 0:
            return i
    return len(lines) - 1


def apply_changes(text: str, changes: Mapping[str, Value]) -> str:
    """`text` with each "section.key" in `changes` set; everything else left byte for byte."""
    lines = text.splitlines()
    for dotted, value in changes.items():
        section, _, key = dotted.rpartition(".")
        if not section or not key:
            raise ValueError(f"config keys are written as section.key, got {dotted!r}")
        new_line = f"{key} = {toml_value(value)}"
        current = ""
        header_at: int | None = None
        active: int | None = None
        commented: int | None = None
        section_end: int | None = None
        for i, line in enumerate(lines):
            header = _HEADER.match(line)
            if header:
                if current == section and section_end is None:
                    section_end = i
                current = header.group(1)
                if current == section:
                    header_at, section_end = i, None
                continue
            if current != section:
                continue
            match = _KEY.match(line)
            if match and match.group(3) == key:
                if match.group(2) is None and active is None:
                    active = i
                elif match.group(2) is not None and commented is None:
                    commented = i
        if active is not None:
            end = _value_end(lines, active)
            tail = lines[end].split("]")[-1] if end > active else lines[active]
            comment = _trailing_comment(tail)
            indent = lines[active][: len(lines[active]) - len(lines[active].lstrip())]
            lines[active : end + 1] = [indent + new_line + (f"  {comment}" if comment else "")]
        elif commented is not None:
            # keep the commented default as documentation, the live value right under it
            lines.insert(commented + 1, new_line)
        elif header_at is not None:
            lines.insert(header_at + 1, new_line)
        else:
            if lines and lines[-1].strip():
                lines.append("")
            lines.extend([f"[{section}]", new_line])
    return "\n".join(lines) + "\n"


def _trailing_comment(line: str) -> str:
    """A `# comment` after the value on a line, outside any string."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: "x" * len(m.group(0)), line)
    at = stripped.find("#", stripped.find("=") + 1 if "=" in stripped else 0)
    return line[at:].strip() if at >= 0 else ""


def _set(tree: dict[str, Any], dotted: str, value: Value) -> None:
    section, _, key = dotted.rpartition(".")
    node = tree
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value


def save_settings(path: Path, changes: Mapping[str, Value]) -> Settings:
    """Write `changes` into the config file at `path` and return the settings now in force.

    Raises ConfigError (naming the key and what is allowed) when the new values are invalid, and
    UserError when the file could not be edited safely; in both cases the file is untouched.
    """
    old_text = path.read_text(encoding="utf-8") if path.exists() else default_text()
    try:
        expected = tomllib.loads(old_text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config error in {path}: fix the file first ({exc})") from None
    new_text = apply_changes(old_text, changes)
    for dotted, value in changes.items():
        _set(expected, dotted, value)
    try:
        got = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        got = None
    if got != expected:
        raise UserError(
            f"could not update {path} safely (unusual layout); change it by hand, the file was left as it was"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new_text)
        try:
            settings = load_settings(tmp)
        except ConfigError as exc:
            # the line number would point into text that was never written: name the key only
            raise ConfigError(path, exc.key, exc.problem) from None
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        tmp.chmod(mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return settings
