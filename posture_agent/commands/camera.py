"""camera enable | disable | calibrate | check: opt-in camera check-ins (docs/camera.md).

The check itself runs in a child process (camera/launch.py): this command never imports OpenCV.
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path
from typing import Any

from posture_agent.camera.calibration import calibration_file, load_calibration, save_calibration
from posture_agent.camera.launch import EXTRA_HINT, CameraError, CheckResult, extra_installed, run_check
from posture_agent.camera.measures import Calibration, Thresholds
from posture_agent.config import ensure_config
from posture_agent.context import Context, add_json
from posture_agent.errors import UserError
from posture_agent.timeparse import iso
from posture_agent.ui.settings_file import save_settings

EXPLANATION = """\
Camera check-ins (on this computer only)

At each desk check-in time the agent opens the camera for about a second, takes five frames and
finds your face in them, on this computer. It compares the face's height and size with your
calibrated upright pose:
  - head lower than calibrated (4 cm or more by default), or leaning in: slouched, and one
    notification asks you to sit tall ("That's wrong" corrects it);
  - upright: stored as a camera check-in, no prompt;
  - nobody there: away; the camera in use by another program (a call): you count as in a meeting.

No image ever leaves memory: frames are dropped once measured, nothing is stored or sent. Only the
verdict and a few numbers (how much lower the head was, the face's size) are kept with the check-in.

Next: sit upright and run `posture-agent camera calibrate` (again whenever the desk changes).
Turn it off with `posture-agent camera disable` (or `enabled = false` under [camera] in the config)."""


def register(sub: Any) -> None:
    p = sub.add_parser("camera", help="opt-in camera check-ins: camera enable|disable|calibrate|check")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = csub.add_parser("enable", help="explain what is measured and turn camera check-ins on")
    add_json(e)
    e.set_defaults(func=cmd_enable)
    d = csub.add_parser("disable", help="turn camera check-ins off")
    add_json(d)
    d.set_defaults(func=cmd_disable)
    c = csub.add_parser("calibrate", help="measure your upright pose (sit well and look at the screen)")
    c.add_argument("--source", metavar="S", help="a camera number or a video file (default: the config's)")
    add_json(c)
    c.set_defaults(func=cmd_calibrate)
    k = csub.add_parser("check", help="one camera check now: the verdict and its measures")
    k.add_argument("--source", metavar="S", help="a camera number or a video file (default: the config's)")
    k.add_argument("--context", default="desk", help="desk, car or sofa (default desk)")
    k.add_argument("--dry-run", action="store_true", help="print the verdict without storing a check-in")
    add_json(k)
    k.set_defaults(func=cmd_check)


def source_of(ctx: Context, args: argparse.Namespace) -> str:
    """--source (a number, or a video file relative to here), else the config's source."""
    given: str | None = getattr(args, "source", None)
    if given is None:
        return str(ctx.settings().camera_source)
    if given.isdigit():
        return given
    return str(Path(given).expanduser().absolute())


def limits_of(settings: Any) -> Thresholds:
    return Thresholds(drop_cm=settings.camera_drop_cm, lean_ratio=settings.camera_lean_ratio)


def _switch(ctx: Context, on: bool) -> Any:
    ensure_config(ctx.paths.config_file)
    return save_settings(ctx.paths.config_file, {"camera.enabled": on})


def cmd_enable(ctx: Context, args: argparse.Namespace) -> None:
    _switch(ctx, True)
    ctx.saved = True
    calibrated = load_calibration(ctx.paths.data_dir) is not None
    installed = extra_installed()
    notes = []
    if not installed:
        notes.append(f"Note: {EXTRA_HINT}; until then no check runs.")
    if not calibrated:
        notes.append("Not calibrated yet: run `posture-agent camera calibrate` before the first check.")
    ctx.emit({"enabled": True, "extra_installed": installed, "calibrated": calibrated,
              "config": str(ctx.paths.config_file)},
             lambda: [EXPLANATION, "", f"Camera check-ins are on ({ctx.paths.config_file}).", *notes])


def cmd_disable(ctx: Context, args: argparse.Namespace) -> None:
    _switch(ctx, False)
    ctx.saved = True
    ctx.emit({"enabled": False, "config": str(ctx.paths.config_file)},
             lambda: "Camera check-ins are off; the camera is not opened again.")


def _run(source: str, calibration: Calibration | None, limits: Thresholds) -> CheckResult:
    if not extra_installed():
        raise CameraError(EXTRA_HINT)
    return run_check(source, calibration, limits)


def cmd_calibrate(ctx: Context, args: argparse.Namespace) -> None:
    source = source_of(ctx, args)
    result = _run(source, None, limits_of(ctx.settings()))
    v = result.verdict
    if v.verdict == "busy":
        raise CameraError(f"the camera is in use by another program ({v.detail}); close it and calibrate again")
    m = v.measures
    if v.verdict != "upright" or m.centre_x is None or m.centre_y is None or m.face_width is None:
        raise CameraError(f"no face found ({v.detail}): sit in front of the camera, in the light, and try again")
    cal = Calibration(m.centre_x, m.centre_y, m.face_width, iso(ctx.clock.now()) or "", source)
    ctx.paths.make_dirs()
    path = save_calibration(ctx.paths.data_dir, cal)
    ctx.saved = True
    ctx.emit({"calibration": cal.to_json(), "file": str(path), "measures": m.to_json()},
             lambda: f"Calibrated: your upright pose is stored ({path}; three numbers, no image). "
                     f"A face in {m.seen} of {m.frames} frames.")


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings()
    calibration = load_calibration(ctx.paths.data_dir)
    if calibration is None:
        raise UserError("not calibrated: sit upright and run `posture-agent camera calibrate` first")
    context = args.context.lower()
    result = _run(source_of(ctx, args), calibration, limits_of(settings))
    v = result.verdict
    stored = None
    if v.verdict in ("upright", "slouched") and not args.dry_run:
        c = ctx.journal().record_checkin(v.verdict, context, by="camera", measures=(v.drop_cm, v.size_ratio))
        stored = c.id
    data = {**v.to_json(), "stored": stored, "context": context, "wall_ms": round(result.wall_ms, 1),
            "timings": result.timings}

    def text() -> list[str]:
        lines = [f"Camera check: {v.verdict}" + (f" ({v.detail})" if v.detail else "")]
        if v.drop_cm is not None and v.size_ratio is not None:
            lines.append(f"  head {v.drop_cm:+.1f} cm against your upright (positive: lower), "
                         f"face {v.size_ratio:.2f}x its calibrated size")
        lines.append(f"  a face in {v.measures.seen} of {v.measures.frames} frames, {result.wall_ms / 1000:.1f} s")
        if stored:
            lines.append(f"  stored as a camera check-in at the {context}")
        elif args.dry_run:
            lines.append("  not stored (--dry-run)")
        else:
            lines.append("  nothing stored (only upright and slouched are check-ins)")
        return lines

    ctx.emit(data, text)
    return 0


def doctor_check(ctx: Context) -> dict[str, Any]:
    """Whether camera check-ins can run: the extra, a camera (or the video file) and the calibration."""
    try:
        settings = ctx.settings()
    except UserError:
        return {"check": "camera", "ok": True, "detail": "config unreadable (see config above)", "fix": None}
    installed = extra_installed()
    source = settings.camera_source
    present = True
    if source.isdigit():
        if sys.platform.startswith("linux"):
            devices = sorted(glob.glob("/dev/video*"))
            present = Path(f"/dev/video{source}").exists()
            camera = f"camera {source} present" if present else (
                f"no camera {source} (found: {', '.join(devices) or 'none'})")
        else:
            camera = f"camera {source} (seen at the first check)"
    else:
        present = Path(source).is_file()
        camera = f"video file {source}" + ("" if present else " missing")
    try:
        cal = load_calibration(ctx.paths.data_dir)
        calibration = f"calibrated {cal.calibrated_at[:16]}" if cal else "not calibrated"
    except UserError as exc:
        cal, calibration = None, str(exc)
    detail = (f"{'on' if settings.camera_enabled else 'off'}; extra {'installed' if installed else 'not installed'}; "
              f"{camera}; {calibration}")
    fix = ""
    if settings.camera_enabled and not installed:
        fix = "pip install 'posture-agent[camera]'"
    elif settings.camera_enabled and not present:
        fix = "connect a camera, or set source under [camera] in the config (a camera number or a video file)"
    elif settings.camera_enabled and cal is None:
        fix = f"posture-agent camera calibrate (writes {calibration_file(ctx.paths.data_dir).name})"
    return {"check": "camera", "ok": not fix, "detail": detail, "fix": fix or None}
