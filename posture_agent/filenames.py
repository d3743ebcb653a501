"""File names (and other text from the command line) whatever their bytes: shown escaped to a person,
kept exact in JSON, stored as valid UTF-8.

A name that is not valid UTF-8 reaches Python as lone surrogates (`bad\\udcffname`), which neither
SQLite nor a UTF-8 terminal accepts; a name with a newline or an escape sequence would split a line
or recolour the terminal.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` safe for one line of a terminal: undecodable bytes as \\xNN, control characters as
    \\n, \\x1b and the like, everything else as it is."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1] if ch != "'" else ch)
    return "".join(out)


def stored(path: str | os.PathLike[str]) -> str:
    """A path as valid UTF-8 text for the database: undecodable bytes as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def json_text(data: Any) -> str:
    """JSON that any UTF-8 stream accepts: lone surrogates written as \\udcNN escapes, which a JSON
    reader turns back into the same code points (so `os.fsencode` gives the exact bytes again)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
