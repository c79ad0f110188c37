"""`make bench`: speed and memory of the engines, as ratios against baselines run alongside.

Each figure is measured in this run, on this machine, next to its baseline:
- warp reenact and speak (512x512, end to end) against a plain decode + encode of the same clip;
- the neural engine's cached, batched, inference-mode loop against LIA's reference loop
  (source re-encoded every frame, batch 1, autograd on) at 256 px;
- peak memory of a 60 s job against a 10 s job (each in its own process).
Results go to bench/results/latest.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def plain_transcode(driver: Path, output: Path) -> int:
    """The baseline: decode every frame and encode it again, with the audio muxed."""
    from fgemotalk_cli.media.encode import VideoWriter, mux_audio
    from fgemotalk_cli.media.video import iter_frames, probe_video

    info = probe_video(driver)
    silent = output.with_suffix(".video.mp4")
    frames = 0
    with VideoWriter(silent, fps=info.fps, crf=18, preset="veryfast") as writer:
        for frame in iter_frames(driver):
            writer.write(frame.image)
            frames += 1
    mux_audio(silent, driver if info.has_audio else None, output)
    silent.unlink()
    return frames


def bench_warp(media: Path, scratch: Path) -> dict[str, float]:
    from fgemotalk_cli import api
    from fgemotalk_cli.expression.aus import expression_control
    from fgemotalk_cli.options import RunOptions

    driver = media / "driving" / "sadtalker_WDA_KatieHill_000.mp4"   # 512x512, 8 s, 25 fps
    portrait = media / "portraits" / "liveportrait_s42.jpg"           # 512x512
    speech = media / "audio" / "sadtalker_RD_Radio31_000.wav"         # 8 s
    options = RunOptions(engine="warp", show_progress=False, overwrite=True)
    base_seconds, frames = timed(plain_transcode, driver, scratch / "plain.mp4")
    reenact_seconds, reenacted = timed(
        api.reenact, portrait, driver, scratch / "reenact.mp4",
        control=expression_control(["12=3"]), options=options)
    speak_seconds, spoken = timed(
        api.speak, portrait, speech, scratch / "speak.mp4",
        control=expression_control([], "happy"), options=options)
    return {
        "plain_decode_encode_fps": frames / base_seconds,
        "warp_reenact_fps": reenacted.frames / reenact_seconds,
        "warp_speak_fps": spoken.frames / speak_seconds,
        "warp_reenact_time_vs_plain": reenact_seconds / base_seconds,
        "warp_speak_time_vs_plain_same_frames": (speak_seconds / spoken.frames)
        / (base_seconds / frames),
    }


def memory_child(seconds: int, scratch: str) -> None:
    """Run in a subprocess: reenact a synthetic driver of `seconds`, print peak RSS (KiB)."""
    import numpy as np

    from fgemotalk_cli import api
    from fgemotalk_cli.media.encode import VideoWriter
    from fgemotalk_cli.media.video import iter_frames
    from fgemotalk_cli.options import RunOptions

    folder = Path(scratch)
    media = REPO.parent / "shared" / "media"
    clip = media / "driving" / "lia_vox_driving2.mp4"
    driver = folder / f"driver_{seconds}.mp4"
    # A long driver made by looping a real clip, written as a stream.
    with VideoWriter(driver, fps=25, crf=28, preset="ultrafast") as writer:
        written = 0
        while written < seconds * 25:
            for frame in iter_frames(clip):
                if written >= seconds * 25:
                    break
                writer.write(np.ascontiguousarray(frame.image))
                written += 1
    api.reenact(media / "portraits" / "sadtalker_sad.png", driver, folder / f"out_{seconds}.mp4",
                options=RunOptions(engine="warp", show_progress=False, overwrite=True))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def bench_memory(scratch: Path) -> dict[str, float]:
    peaks = {}
    for seconds in (10, 60):
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(seconds), str(scratch)],
            capture_output=True, text=True, check=True)
        peaks[seconds] = int(done.stdout.strip().splitlines()[-1])
    return {
        "warp_peak_rss_10s_mib": peaks[10] / 1024,
        "warp_peak_rss_60s_mib": peaks[60] / 1024,
        "warp_peak_rss_60s_vs_10s": peaks[60] / peaks[10],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--only", choices=["warp", "memory", "neural"], action="append")
    parser.add_argument("--memory-child", nargs=2, metavar=("SECONDS", "DIR"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return 0
    chosen = set(args.only or ["warp", "memory", "neural"])
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="fgemotalk_bench_") as folder:
        scratch = Path(folder)
        if "warp" in chosen:
            results.update(bench_warp(args.media, scratch))
        if "memory" in chosen:
            results.update(bench_memory(scratch))
        if "neural" in chosen:
            from bench.neural import bench_neural

            results.update(bench_neural())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.3f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
