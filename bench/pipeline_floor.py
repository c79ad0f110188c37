"""The lowest wall-clock ratio to the plain peer a pipeline could reach on this machine.

``bench/pipelines.py`` measures our command against a plain decode + encode of the same clip.
This measures the parts of ours that the peer does not have, each alone, single-threaded, as
CPU milliseconds a frame: the face tracking (FaceMesh over the clip, as the pipeline tracks)
and the warp render (as the render workers run it, ``cv2.setNumThreads(1)``). With the peer's
own CPU, that is the least CPU our job can spend; spread perfectly over ``--cores`` cores,
with no start-up and nothing else, it gives a floor for our wall time, and the floor over the
peer's measured wall time is the best ratio any scheduling could reach:

    floor ratio = (peer CPU + frames x (tracking + render)) / cores / peer wall

    python bench/pipeline_floor.py --rounds 3

Peer runs are whole processes (the same peer as ``bench/pipelines.py``), the median of
``--rounds`` after one warm-up run; the per-frame parts are the median of as many passes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipelines import (  # noqa: E402
    EDIT_CLIP,
    MEDIA,
    PORTRAIT,
    REENACT_DRIVERS,
    _peer,
    measure,
)


def _single_threaded() -> None:
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    threadpool_limits(limits=1, user_api="blas")


def _tracked(clip: Path) -> tuple[list, list, float]:
    """The clip's frames, their faces and the tracking's CPU ms a frame."""
    from fgemotalk_cli.faces.detector import VideoFaceTracker
    from fgemotalk_cli.media.video import iter_frames

    images = [frame.image for frame in iter_frames(clip)]
    started = time.process_time()
    with VideoFaceTracker() as tracker:
        faces = [tracker.detect(image) for image in images]
    return images, faces, (time.process_time() - started) * 1e3 / len(images)


def _reenact_render_ms(images: list, faces: list, passes: int) -> float:
    """CPU ms a frame of the warp render of s42 driven by the clip, ``--au 12=3``."""
    from fgemotalk_cli.engines.base import DriverSample
    from fgemotalk_cli.engines.warp import engine as engine_module
    from fgemotalk_cli.engines.warp.driven import render_driven
    from fgemotalk_cli.pipelines.common import load_source_face

    warp = engine_module.WarpEngine()
    source = load_source_face(MEDIA / "portraits" / PORTRAIT, 0, None)
    state = warp.prepare(source.image, source.landmarks)
    samples = [DriverSample(image, found[0] if found else None, index / 25.0)
               for index, (image, found) in enumerate(zip(images, faces))]
    warp.set_reference(state, next(sample for sample in samples if sample.landmarks))
    jobs: list[tuple] = []
    real = engine_module.render_soon
    engine_module.render_soon = lambda render, queued: jobs.extend(queued) or []
    try:
        warp.reenact_soon(state, samples, [{12: 3.0}] * len(samples), "add")
    finally:
        engine_module.render_soon = real
    render_driven(*jobs[0])  # the first frame builds the layers
    return _per_frame_ms(lambda: [render_driven(*job) for job in jobs], len(jobs), passes)


def _edit_render_ms(images: list, faces: list, passes: int) -> float:
    """CPU ms a frame of edit-au on the clip, ``--preset happy`` (AU 1 at 1, AU 12 at 2.5)."""
    from fgemotalk_cli.engines.warp.engine import WarpEngine, edit_shot_frame
    from fgemotalk_cli.engines.warp.shots import ShotSources

    warp = WarpEngine()
    shots = ShotSources(lambda source: warp.calibrated_shot(source, (1, 12)))
    frames = [shots.frame_for(image, found[0]) for image, found in zip(images, faces) if found]
    vector = {1: 1.0, 12: 2.5}
    return _per_frame_ms(
        lambda: [edit_shot_frame(frame.shot_source(), frame.image, frame.points, vector)
                 for frame in frames], len(frames), passes)


def _per_frame_ms(run, frames: int, passes: int) -> float:
    timings = []
    for _ in range(passes):
        started = time.process_time()
        run()
        timings.append((time.process_time() - started) * 1e3 / frames)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    arguments = parser.parse_args()
    _single_threaded()
    clips = [(f"reenact_{Path(name).stem}", MEDIA / "driving" / name, _reenact_render_ms)
             for name in REENACT_DRIVERS]
    clips.append(("edit_au_video", MEDIA / "driving" / EDIT_CLIP, _edit_render_ms))
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, clip, render_ms in clips:
            peer = _peer("plain", clip, Path(scratch) / "plain.mp4")
            measure(peer)  # warm the file cache and the imports
            runs = [measure(peer) for _ in range(arguments.rounds)]
            peer_wall = statistics.median(wall for wall, _ in runs)
            peer_cpu = statistics.median(cpu for _, cpu in runs)
            images, faces, tracking_ms = _tracked(clip)
            rendering_ms = render_ms(images, faces, arguments.rounds)
            ours_cpu = peer_cpu + len(images) * (tracking_ms + rendering_ms) / 1e3
            results[name] = {
                "frames": len(images), "peer_wall_s": round(peer_wall, 3),
                "peer_cpu_s": round(peer_cpu, 3),
                "peer_cpu_ms_per_frame": round(peer_cpu * 1e3 / len(images), 2),
                "tracking_cpu_ms_per_frame": round(tracking_ms, 2),
                "render_cpu_ms_per_frame": round(rendering_ms, 2),
                "floor_ratio": round(ours_cpu / arguments.cores / peer_wall, 2)}
            print(name, results[name], flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
