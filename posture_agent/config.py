"""The user's settings: packaged defaults plus the user's TOML file, validated once into typed values.

Every other module reads `Settings` attributes, never raw keys; a mistake in the file is reported
as a `ConfigError` naming the file, the line and the key, and the file is never rewritten.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import time, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from posture_agent.domain.drills import Drill, load_catalogue
from posture_agent.domain.plan import Window
from posture_agent.errors import UserError
from posture_agent.inputs import NotARegularFile, read_bounded
from posture_agent.outputs import write_atomically
from posture_agent.paths import make_private_dir

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(UserError):
    """A problem in the user's config file, located by file, line and key."""

    def __init__(self, path: Path, key: str, problem: str, line: int | None = None) -> None:
        where = f"{path}" + (f", line {line}" if line else "")
        super().__init__(f"config error in {where}: {key}: {problem}")
        self.path, self.key, self.problem, self.line = path, key, problem, line


@dataclass(frozen=True)
class Settings:
    timezone: str = ""
    soreness_threshold: int = 3
    prompt_timeout_minutes: int = 2
    device_name: str = ""
    desk: Window = Window(frozenset(range(5)), time(9, 0), time(17, 30), 45)
    sofa: Window = Window(frozenset(range(7)), time(19, 30), time(22, 0), 60)
    car_days: frozenset[int] = frozenset(range(5))
    car_times: tuple[time, ...] = (time(9, 0), time(17, 45))
    drill_time: time = time(7, 30)
    daily_drills: tuple[str, ...] = ("wall-alignment", "chin-tuck")
    circuit_days: frozenset[int] = frozenset({1, 4})
    circuit_time: time = time(18, 30)
    circuit_rounds: int = 2
    circuit_exercises: tuple[str, ...] = (
        "superman", "prone-ytw", "bird-dog", "band-pull-apart", "side-plank",
    )
    soreness_after_run_hours: float = 2.0
    soreness_next_morning: time = time(8, 0)
    ice_times: tuple[time, ...] = (time(12, 30), time(20, 30))
    quiet_hours: tuple[tuple[time, time], ...] = ()
    weekends_off: bool = False
    import_folder: str = ""
    idle_minutes: int = 5
    """Input idle this long means the user is away: prompts are held (presence/)."""
    calendar: tuple[str, ...] = ()
    """Local .ics files, or folders of them, whose meetings hold prompts; empty: none."""
    hold_tentative: bool = True
    """Whether a tentative event (STATUS:TENTATIVE) holds prompts like a confirmed one."""
    camera_enabled: bool = False
    """Camera check-ins at desk check-in times (the camera extra; docs/camera.md)."""
    camera_source: str = "0"
    """A camera index, or a full path to a video file."""
    camera_drop_cm: float = 4.0
    camera_lean_ratio: float = 1.2
    catalogue: dict[str, Drill] = field(default_factory=load_catalogue)

    def zone(self) -> tzinfo:
        """The configured time zone, or the system's."""
        if self.timezone:
            return ZoneInfo(self.timezone)
        from posture_agent.clock import system_zone

        return system_zone()


def default_text() -> str:
    """The commented template written on first run."""
    return resources.files("posture_agent.data").joinpath("default_config.toml").read_text("utf-8")


def ensure_config(path: Path) -> None:
    """Write the commented defaults if the user has no config file yet; never overwrite one.
    The file is created 0600 (its folder 0700 when we create it), readable by the user alone."""
    if path.exists():
        return
    make_private_dir(path.parent)  # a file in the folder's place: one line naming it
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(default_text())


def load_settings_or_defaults(path: Path) -> tuple[Settings, ConfigError | None]:
    """For the agent: a broken config file must not stop it. The last valid settings (else the
    defaults) are used, the error (with its line) is returned for the agent to show, and the file is
    left exactly as the user wrote it."""
    loaded = load_settings_kept(path)
    return loaded.settings, loaded.problem


@dataclass(frozen=True)
class Loaded:
    """The settings to use, and when the file has a mistake, the mistake and what is used instead."""

    settings: Settings
    problem: ConfigError | None = None
    fallback: str = ""
    """"the last valid settings" (a copy of the file as it was when it last had no mistake) or
    "the default settings"."""

    def problem_line(self, doing: str = "using") -> str:
        """One line for the user: which file and line is wrong, what is used meanwhile."""
        return f"{self.problem}; {doing} {self.fallback} until it is fixed (the file was not changed)"


def last_valid_path(path: Path) -> Path:
    """Where the copy of the config file as it was when last read without a mistake is kept."""
    return path.with_name(f"{path.stem}.last-valid{path.suffix}")


def load_settings_kept(path: Path) -> Loaded:
    """For everything that records or runs: one typo must not stop a record from being kept. A valid
    file is used (and a copy of it kept as the last valid one); a file with a mistake gives the last
    valid copy's settings, else the defaults, with the error to say in one line."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        kept = last_valid_path(path)
        try:
            if kept.exists():
                log.warning("%s; using the last valid settings (%s)", exc, kept)
                return Loaded(load_settings(kept), exc, "the last valid settings")
        except ConfigError:
            log.warning("the last valid config %s cannot be read either", kept)
        log.warning("%s; using the defaults", exc)
        return Loaded(Settings(), exc, "the default settings")
    _keep_copy(path)
    return Loaded(settings)


def _keep_copy(path: Path) -> None:
    """Copy a valid config file to `last_valid_path` when it differs from the copy (0600, by rename)."""
    kept = last_valid_path(path)
    try:
        text = read_config_text(path)
        if kept.exists() and read_config_text(kept) == text:
            return
        write_atomically(kept, text, prefix=".config-")
    except (OSError, ConfigError) as exc:  # a read-only folder: the copy is a convenience, never a failure
        log.info("could not keep a copy of the valid config in %s: %s", kept, exc)


def load_settings(path: Path) -> Settings:
    """Read and validate the user's config file (missing file: the defaults)."""
    if not path.exists():
        return Settings()
    text = read_config_text(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError(path, "(syntax)", str(exc).split(" (at")[0], line) from None
    return _Validator(path, text).settings(raw)


TomlValue = str | int | float | bool | list[str]


def toml_value(value: TomlValue) -> str:
    """One value as the config file writes it (the file holds text, numbers, booleans, lists of text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to the config")


def settings_toml(s: Settings) -> str:
    """Every setting in use as a config file would hold it (the same sections and keys; read back, it
    gives the same settings): what `config show` prints."""

    def hm(t: time) -> str:
        return t.strftime("%H:%M")

    def days(ds: frozenset[int]) -> list[str]:
        return [DAYS[d] for d in sorted(ds)]

    sections: dict[str, dict[str, TomlValue]] = {
        "general": {"timezone": s.timezone, "soreness_threshold": s.soreness_threshold,
                    "prompt_timeout_minutes": s.prompt_timeout_minutes, "device_name": s.device_name},
        **{name: {"days": days(w.days), "start": hm(w.start), "end": hm(w.end), "every_minutes": w.every_minutes}
           for name, w in (("desk", s.desk), ("sofa", s.sofa))},
        "car": {"days": days(s.car_days), "times": [hm(t) for t in s.car_times]},
        "drills": {"time": hm(s.drill_time), "daily": list(s.daily_drills)},
        "circuit": {"days": days(s.circuit_days), "time": hm(s.circuit_time), "rounds": s.circuit_rounds,
                    "exercises": list(s.circuit_exercises)},
        "soreness": {"after_run_hours": s.soreness_after_run_hours, "next_morning": hm(s.soreness_next_morning)},
        "si_protocol": {"ice_times": [hm(t) for t in s.ice_times]},
        "quiet": {"hours": [f"{hm(a)}-{hm(b)}" for a, b in s.quiet_hours], "weekends_off": s.weekends_off},
        "import": {"folder": s.import_folder},
        "presence": {"idle_minutes": s.idle_minutes, "calendar": list(s.calendar),
                     "hold_tentative": s.hold_tentative},
    }
    built_in = load_catalogue()
    for name, drill in sorted(s.catalogue.items()):  # the user's own drills and changes to built-in ones
        if built_in.get(name) != drill:
            sections[f"catalogue.{name}"] = {k: getattr(drill, k) for k in ("title", "how", "dose", "kind")}
    blocks = ["\n".join([f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in values.items())])
              for name, values in sections.items()]
    return "\n\n".join(blocks) + "\n"


MAX_CONFIG_BYTES = 1024 * 1024
"""A settings file is a few kilobytes; anything past a megabyte is not one (and is refused at once)."""
BOM = b"\xef\xbb\xbf"


def looks_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or the zero byte beside every character that UTF-16 gives ASCII."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = data[:64]
    halves = head[0::2], head[1::2]
    return len(head) >= 8 and any(h.count(0) == len(h) and o.count(0) == 0 for h, o in (halves, halves[::-1]))


def read_config_text(path: Path) -> str:
    """The file as text: UTF-8, with or without the byte-order mark some editors write. What is not
    a regular file, is too large, or is in another encoding is refused, naming what it is."""
    try:
        data = read_bounded(path, MAX_CONFIG_BYTES)
    except NotARegularFile as exc:
        raise ConfigError(path, "(file)", str(exc)) from None
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(path, "(file)", f"is larger than {MAX_CONFIG_BYTES // 1024} KB: not a settings file")
    if looks_utf16(data):
        raise ConfigError(path, "(file)", "is saved as UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        raise ConfigError(path, "(file)", "contains NUL bytes: not a text file")
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(path, "(file)", f"is not UTF-8 text (byte {exc.start + 1}); save it as UTF-8", line) from None


class _Validator:
    """Turns the raw TOML dictionary into Settings, raising ConfigError at the first mistake."""

    SECTIONS: ClassVar[dict[str, set[str] | None]] = {
        "general": {"timezone", "soreness_threshold", "prompt_timeout_minutes", "device_name"},
        "desk": {"days", "start", "end", "every_minutes"},
        "sofa": {"days", "start", "end", "every_minutes"},
        "car": {"days", "times"},
        "drills": {"time", "daily"},
        "circuit": {"days", "time", "rounds", "exercises"},
        "soreness": {"after_run_hours", "next_morning"},
        "si_protocol": {"ice_times"},
        "quiet": {"hours", "weekends_off"},
        "import": {"folder"},
        "presence": {"idle_minutes", "calendar", "hold_tentative"},
        "camera": {"enabled", "source", "drop_cm", "lean_ratio"},
        "catalogue": None,
    }

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, dotted: str) -> int | None:
        """Best-effort line number of `section.key` in the file, for error messages."""
        section, _, key = dotted.partition(".")
        current = ""
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            header = re.match(r"^\[+\s*([^\]]+?)\s*\]+", line)
            if header:
                current = header.group(1)
                if not key and current.split(".")[0] == section:
                    return number
                continue
            if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
                return number
        return None

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.path, key, problem, self.line_of(key))

    def settings(self, raw: dict[str, Any]) -> Settings:
        for section, value in raw.items():
            if section not in self.SECTIONS:
                known = ", ".join(sorted(self.SECTIONS))
                raise self.fail(section, f"unknown section (known: {known})")
            if not isinstance(value, dict):
                raise self.fail(section, "must be a [section]")
            allowed = self.SECTIONS[section]
            if allowed is not None:
                for key in value:
                    if key not in allowed:
                        known = ", ".join(sorted(allowed))
                        raise self.fail(f"{section}.{key}", f"unknown key (known: {known})")
        d = Settings()
        g = raw.get("general", {})
        tz = self.string(g, "general.timezone", d.timezone)
        if tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail("general.timezone", f"unknown time zone {tz!r}") from None
        catalogue = self.catalogue(raw.get("catalogue", {}))
        drills = raw.get("drills", {})
        circuit = raw.get("circuit", {})
        daily = self.names(drills, "drills.daily", d.daily_drills, catalogue)
        exercises = self.names(circuit, "circuit.exercises", d.circuit_exercises, catalogue)
        car = raw.get("car", {})
        quiet = raw.get("quiet", {})
        soreness = raw.get("soreness", {})
        presence = raw.get("presence", {})
        camera = raw.get("camera", {})
        settings = Settings(
            timezone=tz,
            soreness_threshold=self.integer(g, "general.soreness_threshold", d.soreness_threshold, 1, 10),
            prompt_timeout_minutes=self.integer(
                g, "general.prompt_timeout_minutes", d.prompt_timeout_minutes, 1, 60
            ),
            device_name=self.string(g, "general.device_name", d.device_name),
            desk=self.window(raw.get("desk", {}), "desk", d.desk),
            sofa=self.window(raw.get("sofa", {}), "sofa", d.sofa),
            car_days=self.days(car, "car.days", d.car_days),
            car_times=self.times(car, "car.times", d.car_times),
            drill_time=self.clock_time(drills, "drills.time", d.drill_time),
            daily_drills=daily,
            circuit_days=self.days(circuit, "circuit.days", d.circuit_days),
            circuit_time=self.clock_time(circuit, "circuit.time", d.circuit_time),
            circuit_rounds=self.integer(circuit, "circuit.rounds", d.circuit_rounds, 1, 10),
            circuit_exercises=exercises,
            soreness_after_run_hours=self.number(
                soreness, "soreness.after_run_hours", d.soreness_after_run_hours, 0.25, 12
            ),
            soreness_next_morning=self.clock_time(
                soreness, "soreness.next_morning", d.soreness_next_morning
            ),
            ice_times=self.times(raw.get("si_protocol", {}), "si_protocol.ice_times", d.ice_times),
            quiet_hours=self.ranges(quiet, "quiet.hours"),
            weekends_off=self.boolean(quiet, "quiet.weekends_off", d.weekends_off),
            import_folder=self.string(raw.get("import", {}), "import.folder", d.import_folder),
            idle_minutes=self.integer(presence, "presence.idle_minutes", d.idle_minutes, 1, 240),
            calendar=self.calendar_paths(presence, "presence.calendar"),
            hold_tentative=self.boolean(presence, "presence.hold_tentative", d.hold_tentative),
            camera_enabled=self.boolean(camera, "camera.enabled", d.camera_enabled),
            camera_source=self.camera_source(camera, "camera.source", d.camera_source),
            camera_drop_cm=self.number(camera, "camera.drop_cm", d.camera_drop_cm, 1, 30),
            camera_lean_ratio=self.number(camera, "camera.lean_ratio", d.camera_lean_ratio, 1.05, 3),
            catalogue=catalogue,
        )
        self.timeout_before_next(settings)
        return settings

    def timeout_before_next(self, s: Settings) -> None:
        """A check-in must time out before the next one of its window is due: otherwise several are
        open at once and one answer would close them all."""
        shortest = min(s.desk, s.sofa, key=lambda w: w.every_minutes)
        if s.prompt_timeout_minutes >= shortest.every_minutes:
            name = "desk" if shortest is s.desk else "sofa"
            raise self.fail(
                "general.prompt_timeout_minutes",
                f"must be shorter than the {shortest.every_minutes} minutes between check-ins "
                f"({name}.every_minutes), got {s.prompt_timeout_minutes}",
            )

    # --- typed readers -------------------------------------------------------------------------

    def string(self, table: dict[str, Any], key: str, default: str) -> str:
        value = table.get(key.split(".")[-1], default)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a text in quotes, got {value!r}")
        return value.strip()

    def calendar_paths(self, table: dict[str, Any], key: str) -> tuple[str, ...]:
        """Full (or ~) paths of .ics files or folders of them: one text or a list of texts. One
        missing now is only reported by doctor (the file may come with the next sync)."""
        value = table.get(key.split(".")[-1], "")
        listed = [value] if isinstance(value, str) else value
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise self.fail(key, f'must be a path or a list of paths like ["~/work.ics"], got {value!r}')
        out: list[str] = []
        for text in (v.strip() for v in listed):
            if not text:
                continue
            path = Path(text).expanduser()
            if not path.is_absolute():
                raise self.fail(key, f"must be a full path to an .ics file or a folder of them, got {text!r}")
            if str(path) not in out:
                out.append(str(path))
        return tuple(out)

    def camera_source(self, table: dict[str, Any], key: str, default: str) -> str:
        """A camera index ("0") or a full path to a video file."""
        value = table.get(key.split(".")[-1], default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = self.string({key.split(".")[-1]: value}, key, default)
        if re.fullmatch(r"\d{1,2}", text) or (text and Path(text).expanduser().is_absolute()):
            return str(Path(text).expanduser()) if not text.isdigit() else text
        raise self.fail(key, f'must be a camera number from 0 to 99 or a full path to a video file, got {value!r}')

    def boolean(self, table: dict[str, Any], key: str, default: bool) -> bool:
        value = table.get(key.split(".")[-1], default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def integer(self, table: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
        value = table.get(key.split(".")[-1], default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, f"must be a whole number from {lo} to {hi}, got {value!r}")
        return value

    def number(self, table: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
        value = table.get(key.split(".")[-1], default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise self.fail(key, f"must be a number from {lo:g} to {hi:g}, got {value!r}")
        return float(value)

    def clock_time(self, table: dict[str, Any], key: str, default: time) -> time:
        value = table.get(key.split(".")[-1])
        if value is None:
            return default
        return self.parse_time(key, value)

    def parse_time(self, key: str, value: object) -> time:
        if isinstance(value, str):
            match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
            if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
                return time(int(match.group(1)), int(match.group(2)))
        raise self.fail(key, f'must be a time "HH:MM" from "00:00" to "23:59", got {value!r}')

    def times(self, table: dict[str, Any], key: str, default: tuple[time, ...]) -> tuple[time, ...]:
        value = table.get(key.split(".")[-1])
        if value is None:
            return default
        if not isinstance(value, list):
            raise self.fail(key, f'must be a list of times like ["09:00"], got {value!r}')
        return tuple(sorted({self.parse_time(key, v) for v in value}))

    def days(self, table: dict[str, Any], key: str, default: frozenset[int]) -> frozenset[int]:
        value = table.get(key.split(".")[-1])
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f'must be a list of days like ["mon", "tue"], got {value!r}')
        out = set()
        for v in value:
            name = v.strip().lower()[:3]
            if name not in DAYS:
                raise self.fail(key, f"unknown day {v!r} (use {', '.join(DAYS)})")
            out.add(DAYS.index(name))
        return frozenset(out)

    def window(self, table: dict[str, Any], section: str, default: Window) -> Window:
        start = self.clock_time(table, f"{section}.start", default.start)
        end = self.clock_time(table, f"{section}.end", default.end)
        if end <= start:
            raise self.fail(f"{section}.end", f"must be later than start ({start:%H:%M})")
        return Window(
            days=self.days(table, f"{section}.days", default.days),
            start=start,
            end=end,
            every_minutes=self.integer(table, f"{section}.every_minutes", default.every_minutes, 5, 480),
        )

    def ranges(self, table: dict[str, Any], key: str) -> tuple[tuple[time, time], ...]:
        value = table.get(key.split(".")[-1], [])
        if not isinstance(value, list):
            raise self.fail(key, f'must be a list like ["12:00-13:00"], got {value!r}')
        out = []
        for v in value:
            parts = v.split("-") if isinstance(v, str) else []
            if len(parts) != 2:
                raise self.fail(key, f'must be ranges like "12:00-13:00", got {v!r}')
            start, end = self.parse_time(key, parts[0]), self.parse_time(key, parts[1])
            if end <= start:
                raise self.fail(key, f"range {v!r} ends before it starts")
            out.append((start, end))
        return tuple(out)

    def catalogue(self, table: object) -> dict[str, Drill]:
        if not isinstance(table, dict):
            raise self.fail("catalogue", "must be [catalogue.NAME] tables")
        catalogue = load_catalogue()
        for name, entry in table.items():
            key = f"catalogue.{name}"
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
                raise self.fail(key, "drill names use lower-case letters, digits and dashes")
            if not isinstance(entry, dict):
                raise self.fail(key, "must be a table with title, how and dose")
            base = catalogue.get(name)
            fields: dict[str, str] = {}
            for part in ("title", "how", "dose", "kind"):
                value = entry.get(part, getattr(base, part, None) if base else None)
                if value is None and part != "kind":
                    raise self.fail(f"{key}.{part}", "is required for a new drill")
                if value is not None and not isinstance(value, str):
                    raise self.fail(f"{key}.{part}", f"must be a text, got {value!r}")
                fields[part] = value or "custom"
            unknown = set(entry) - {"title", "how", "dose", "kind"}
            if unknown:
                raise self.fail(f"{key}.{sorted(unknown)[0]}", "unknown key (known: title, how, dose, kind)")
            catalogue[name] = Drill(name=name, **fields)
        return catalogue

    def names(
        self, table: dict[str, Any], key: str, default: tuple[str, ...], catalogue: dict[str, Drill]
    ) -> tuple[str, ...]:
        value = table.get(key.split(".")[-1])
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of drill names, got {value!r}")
        for v in value:
            if v not in catalogue:
                raise self.fail(key, f"unknown drill {v!r} (known: {', '.join(sorted(catalogue))})")
        return tuple(value)
