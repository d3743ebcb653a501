"""The camera check's child process: `python -m posture_agent.camera` (or the program itself with
`--camera-process` when frozen). It reads a burst from the source, measures the face, judges it
against the calibration given as numbers, and prints one JSON object on stdout: the verdict, the
few numbers behind it and its timings. No frame, landmark or image leaves this process.

Exit status: 0 with a verdict (upright, slouched, away, busy); 3 when there is no camera or video
at the source (the JSON says why); 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from posture_agent.camera.measures import Calibration, Measures, Thresholds, Verdict, judge
from posture_agent.camera.vision import CameraBusy, NoCamera, measure_source

EXIT_NO_SOURCE = 3


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="posture_agent.camera", description="one camera check (a child process)")
    p.add_argument("--source", required=True, help="a camera index (0) or a video file")
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--warmup", type=int, default=None,
                   help="frames dropped first (default: 5 for a camera, 0 for a file)")
    p.add_argument("--calibration", metavar="X,Y,W", help="the calibrated face centre and width, in frame widths")
    p.add_argument("--drop-cm", type=float, default=Thresholds.drop_cm)
    p.add_argument("--lean-ratio", type=float, default=Thresholds.lean_ratio)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse(sys.argv[1:] if argv is None else argv)
    calibration = None
    if args.calibration:
        x, y, w = (float(v) for v in args.calibration.split(","))
        calibration = Calibration(x, y, w)
    warmup = args.warmup if args.warmup is not None else (5 if args.source.isdigit() else 0)
    frames = max(1, min(args.frames, 60))
    timings: dict[str, float] = {}
    try:
        limits = Thresholds(args.drop_cm, args.lean_ratio)
        measures, took = measure_source(args.source, frames, warmup, limits.min_seen)
        timings = took.to_json()
        verdict = judge(measures, calibration, limits)
    except CameraBusy as exc:
        verdict = Verdict("busy", Measures(frames=0, seen=0), detail=str(exc))
    except NoCamera as exc:
        answer({"error": str(exc)})
        return EXIT_NO_SOURCE
    timings["child_ms"] = round((time.perf_counter() - started) * 1000, 1)
    answer({**verdict.to_json(), "timings": timings})
    return 0


def answer(data: dict[str, object]) -> None:
    """The one line this process hands back, on stdout."""
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()
