"""Per-frame render CPU of the warp engine, two checkouts side by side, and their pixels.

A fixed set of jobs, built the same way in each checkout: reenacted frames (two portraits x two
drivers, the driver's gaze, ``--au 12=3``, ``render_driven`` as the render workers run it) and
speak-like frames (``edit_source`` with AUs, a jaw opening, blinks and head turns). Each checkout
runs in its own process (``PYTHONPATH`` and cwd = the checkout), single-threaded
(``cv2.setNumThreads(1)``, threadpoolctl 1), times every frame with ``time.process_time`` and
keeps its frames; the two processes take turns (A B A B ...) for ``--repeats`` rounds, and the
median round is reported. Then every frame of one checkout is compared with the other's:

    python bench/render_frame.py --before OLD_CHECKOUT --after . --repeats 3 --sheet diff.png

(an old checkout: ``git archive COMMIT | tar -x -C /tmp/old``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
PORTRAITS = ("liveportrait_s42.jpg", "sadtalker_art_20.png")
DRIVERS = ("sadtalker_WDA_KatieHill_000.mp4", "liveportrait_d10.mp4")
REENACT_FRAMES = 40
SPEAK_FRAMES = 20


def _speak_controls(count: int) -> list[tuple[dict[int, float], dict[str, float], tuple]]:
    """AU vectors, mouth shapes and head turns of a speak-like run: the jaw opens and closes,
    the head turns and nods, a blink half way."""
    controls = []
    for i in range(count):
        phase = i / max(count - 1, 1)
        aus = {12: 2.0, 1: 1.0, 45: 5.0 if i in (count // 2, count // 2 + 1) else 0.0}
        mouth = {"jaw_open": float(0.5 - 0.5 * np.cos(4 * np.pi * phase)),
                 "lip_width": float(0.3 * np.sin(2 * np.pi * phase)),
                 "rounding": float(0.4 * (i % 5 == 0))}
        head = (float(12 * np.sin(2 * np.pi * phase)), float(5 * np.sin(4 * np.pi * phase)),
                float(3 * np.cos(2 * np.pi * phase)))
        controls.append((aus, mouth, head))
    return controls


def _build_jobs(media: Path, portraits: tuple[str, ...] = PORTRAITS,
                drivers: tuple[str, ...] = DRIVERS) -> list[tuple[str, object, tuple]]:
    """(kind, render function, arguments) for every frame, in this checkout's code."""
    from itertools import islice

    from fgemotalk_cli.engines.warp import engine as warp
    from fgemotalk_cli.engines.warp.driven import DrivenLayers, render_driven
    from fgemotalk_cli.engines.warp.iris import IrisLayer
    from fgemotalk_cli.engines.warp.motion import MotionTransfer
    from fgemotalk_cli.engines.warp.mouth import MouthPatch
    from fgemotalk_cli.media.video import DecodeReport, probe_video
    from fgemotalk_cli.pipelines.common import RunStats, load_source_face
    from fgemotalk_cli.pipelines.reenact import _tracked_driver
    from fgemotalk_cli.speech.visemes import MouthShape

    engine = warp.WarpEngine(calibrate="off")
    tracked = {}
    for name in drivers:
        path = media / "driving" / name
        info = probe_video(path)
        tracked[name] = list(islice(_tracked_driver(path, RunStats(engine="warp", fps=info.fps),
                                                    info, DecodeReport()), REENACT_FRAMES))
    jobs: list[tuple[str, object, tuple]] = []
    for portrait in portraits:
        face = load_source_face(media / "portraits" / portrait, 0, None)
        state = engine.prepare(face.image, face.landmarks)
        source = state.source
        source.layers  # noqa: B018  (built once, as the job's process does before forking)
        layers = DrivenLayers(irises=IrisLayer.from_source(source))
        for samples in tracked.values():
            engine.set_reference(state, samples[0])
            assert state.reference is not None
            transfer = MotionTransfer(source.geometry, state.reference, "add", pose="driver",
                                      pose_scale=1.0, gaze="driver")
            for sample in samples:
                target = transfer.target_points(sample.landmarks, sample.time_seconds, {12: 3.0})
                patch = (None if sample.landmarks is None
                         else MouthPatch(sample.image, sample.landmarks.points))
                jobs.append(("reenact", render_driven, (source, target, patch, layers)))
        for aus, mouth, head in _speak_controls(SPEAK_FRAMES):
            jobs.append(("speak", warp.edit_source,
                         (source, aus, MouthShape.from_mapping(mouth), head)))
    return jobs


def _worker(media: Path, frames_out: Path, portraits: tuple[str, ...],
            drivers: tuple[str, ...]) -> None:
    """Build the jobs and render them once into ``frames_out``; then on each line read render
    them all again and answer with the CPU ms (and page faults) a frame of each kind (one JSON
    line)."""
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    threadpool_limits(1)
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # library chatter goes to stderr, answers to the pipe
    jobs = _build_jobs(media, portraits, drivers)
    # A first pass, untimed, keeps the frames and warms caches (cached properties, OpenCV's
    # first calls, the allocator's heap: its first pass page-faults ~180 times a frame).
    np.savez(frames_out, kinds=np.array([kind for kind, _, _ in jobs]),
             **{f"f{i}": render(*arguments) for i, (_, render, arguments) in enumerate(jobs)})
    for _line in sys.stdin:
        times: dict[str, list[float]] = {}
        faults: dict[str, list[float]] = {}
        for kind, render, arguments in jobs:
            start, faulted = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
            render(*arguments)
            times.setdefault(kind, []).append(time.process_time() - start)
            faults.setdefault(kind, []).append(
                resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faulted.ru_minflt)
        answer.write(json.dumps({
            **{kind: 1000 * float(np.mean(values)) for kind, values in times.items()},
            **{f"{kind} faults": float(np.mean(values)) for kind, values in faults.items()}})
            + "\n")
        answer.flush()


def _start(checkout: Path, media: Path, frames_out: Path, portraits: list[str],
           drivers: list[str]) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=str(checkout))
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker",
                             "--media", str(media), "--frames", str(frames_out),
                             "--portraits", *portraits, "--drivers", *drivers],
                            cwd=checkout, env=environment, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _compare(before: Path, after: Path, sheet: Path | None) -> dict[str, dict[str, float]]:
    """Per kind: frames identical, max and mean absolute difference; the most different frame
    side by side (before | after | difference x8) around its changed pixels, into ``sheet``."""
    import cv2

    old, new = np.load(before), np.load(after)
    kinds = old["kinds"]
    summary: dict[str, dict[str, float]] = {}
    worst = (-1.0, 0)
    for i, kind in enumerate(kinds):
        a, b = old[f"f{i}"].astype(np.int16), new[f"f{i}"].astype(np.int16)
        difference = np.abs(a - b)
        entry = summary.setdefault(str(kind), {"frames": 0, "identical": 0, "max": 0.0,
                                               "mean": 0.0, "changed_share": 0.0})
        entry["frames"] += 1
        entry["identical"] += int(not difference.any())
        entry["max"] = max(entry["max"], float(difference.max()))
        entry["mean"] += float(difference.mean())
        entry["changed_share"] += float((difference.max(axis=2) > 0).mean())
        if float(difference.max()) > worst[0]:
            worst = (float(difference.max()), i)
    for entry in summary.values():
        entry["mean"] /= entry["frames"]
        entry["changed_share"] /= entry["frames"]
    if sheet is not None and worst[0] > 0:
        i = worst[1]
        a, b = old[f"f{i}"], new[f"f{i}"]
        changed = np.argwhere(np.abs(a.astype(np.int16) - b).max(axis=2) > 0)
        (y0, x0), (y1, x1) = changed.min(0), changed.max(0) + 1
        pad = 24
        y0, x0 = max(y0 - pad, 0), max(x0 - pad, 0)
        y1, x1 = min(y1 + pad, a.shape[0]), min(x1 + pad, a.shape[1])
        crops = [a[y0:y1, x0:x1], b[y0:y1, x0:x1],
                 np.clip(8 * np.abs(a.astype(np.int16) - b), 0, 255).astype(np.uint8)[y0:y1, x0:x1]]
        row = np.concatenate(crops, axis=1)
        factor = max(1, 256 // max(row.shape[0], 1))
        row = cv2.resize(row, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(sheet), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
        print(f"sheet: {sheet} (frame {i}, {kinds[i]}, max {worst[0]:.0f})")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="checkout for the 'before' column")
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/render_frame"),
                        help="where the frames of each checkout are kept (not committed)")
    parser.add_argument("--sheet", type=Path, help="PNG of the most different frame")
    parser.add_argument("--portraits", nargs="+", default=list(PORTRAITS),
                        help="files in MEDIA/portraits")
    parser.add_argument("--drivers", nargs="+", default=list(DRIVERS),
                        help="files in MEDIA/driving")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.media, args.frames, tuple(args.portraits), tuple(args.drivers))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    checkouts = {"after": args.after.resolve()}
    if args.before is not None:
        checkouts = {"before": args.before.resolve(), **checkouts}
    workers = {label: _start(path, args.media, args.work / f"{label}.npz", args.portraits,
                             args.drivers)
               for label, path in checkouts.items()}
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label in workers}
    for _ in range(args.repeats):
        for label, worker in workers.items():  # in turn: the machine's load hits both alike
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
            line = worker.stdout.readline()
            if not line:
                raise SystemExit(f"the {label} worker ({checkouts[label]}) failed")
            rounds[label].append(json.loads(line))
    for worker in workers.values():
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()
    print(f"load average {os.getloadavg()[0]:.2f}; CPU ms per frame, single thread, "
          f"median of {args.repeats} rounds (each round's mean over its frames)")
    kinds = list(rounds["after"][0])
    print(f"{'kind':10s}" + "".join(f"{label:>12s}" for label in workers) + "   rounds")
    for kind in kinds:
        medians = [float(np.median([r[kind] for r in rounds[label]])) for label in workers]
        spread = "; ".join(" ".join(f"{r[kind]:.2f}" for r in rounds[label]) for label in workers)
        print(f"{kind:10s}" + "".join(f"{m:12.2f}" for m in medians) + f"   {spread}")
    if "before" in workers:
        # Each round runs both checkouts back to back: their ratio within a round is steadier
        # than either median on a shared machine.
        for kind in (kind for kind in kinds if not kind.endswith("faults")):
            ratios = [a[kind] / b[kind] for a, b in zip(rounds["after"], rounds["before"])]
            print(f"after / before {kind}: median {np.median(ratios):.3f} "
                  f"(rounds {min(ratios):.3f}-{max(ratios):.3f})")
        for kind, entry in _compare(args.work / "before.npz", args.work / "after.npz",
                                    args.sheet).items():
            print(f"pixels {kind}: {entry['identical']}/{entry['frames']} frames identical, "
                  f"max abs {entry['max']:.0f}, mean abs {entry['mean']:.5f}, "
                  f"changed pixels {100 * entry['changed_share']:.3f}%")


if __name__ == "__main__":
    main()
