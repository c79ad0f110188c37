"""`make bench`: speed and memory of the engines, as ratios against baselines run alongside.

Each figure is measured in this run, on this machine, next to its baseline:
- warp reenact, speak and edit-au on a video, end to end as whole `fgemotalk` processes,
  interleaved over rounds with a plain PyAV decode + x264 + AAC encode of the same clip (or
  of a still with the same audio), wall and CPU time (bench/pipelines.py);
- fixed costs (`--help`, `edit-au face.png`), and 20 jobs as one `batch` against a shell loop;
- the neural engine's loop against LIA's reference loop at 256 px (bench/neural.py);
- peak memory of a 60 s job against a 10 s job (reenact and speak, each in its own process).
Results go to bench/results/latest.json and a table on stdout; the machine's load average
is recorded with them, since on a shared machine the wall clock measures the neighbours too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def memory_child(seconds: int, scratch: str, kind: str = "reenact") -> None:
    """Run in a subprocess: reenact a driver (or speak a speech clip) of `seconds` made by
    looping a real one, and print the peak memory (KiB, PSS) of the job's processes."""
    import numpy as np

    from fgemotalk_cli import api
    from fgemotalk_cli.media.encode import VideoWriter
    from fgemotalk_cli.media.video import iter_frames
    from fgemotalk_cli.options import RunOptions

    folder = Path(scratch)
    media = REPO.parent / "shared" / "media"
    if kind == "speak":
        import soundfile

        wave, rate = soundfile.read(str(media / "audio" / "sadtalker_RD_Radio31_000.wav"))
        speech = folder / f"speech_{seconds}.wav"
        soundfile.write(str(speech), np.resize(wave, seconds * rate), rate)
        memory = _JobMemory()
        api.speak(media / "portraits" / "sadtalker_sad.png", speech,
                  folder / f"speak_{seconds}.mp4",
                  options=RunOptions(engine="warp", show_progress=False, overwrite=True))
        print(memory.stop())
        return
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
    memory = _JobMemory()
    api.reenact(media / "portraits" / "sadtalker_sad.png", driver, folder / f"out_{seconds}.mp4",
                options=RunOptions(engine="warp", show_progress=False, overwrite=True))
    print(memory.stop())


class _JobMemory:
    """Peak proportional set size (PSS) of this process and its render workers together,
    sampled every 20 ms: a forked worker shares its parent's pages, which RSS would count
    twice (and a fork's ``ru_maxrss`` starts at its parent's peak)."""

    def __init__(self) -> None:
        import threading

        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import multiprocessing

        while not self._stop.wait(0.02):
            pids = [os.getpid()] + [child.pid for child in multiprocessing.active_children()]
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(pid) for pid in pids))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib


def _pss_kib(pid: int | None) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:  # the worker ended meanwhile
        pass
    return 0


def bench_memory(scratch: Path) -> dict[str, float]:
    results = {}
    for kind in ("reenact", "speak"):
        peaks = {}
        for seconds in (10, 60):
            done = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(seconds), str(scratch), kind],
                capture_output=True, text=True, check=True)
            peaks[seconds] = int(done.stdout.strip().splitlines()[-1])
        results[f"warp_{kind}_peak_pss_10s_mib"] = peaks[10] / 1024
        results[f"warp_{kind}_peak_pss_60s_mib"] = peaks[60] / 1024
        results[f"warp_{kind}_peak_pss_60s_vs_10s"] = peaks[60] / peaks[10]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--only", choices=["warp", "memory", "neural"], action="append")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds per pair.")
    parser.add_argument("--neural-compile", action="store_true",
                        help="Also time torch.compile and say whether it pays within a minute.")
    parser.add_argument("--memory-child", nargs=3, metavar=("SECONDS", "DIR", "KIND"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1], args.memory_child[2])
        return 0
    chosen = set(args.only or ["warp", "memory", "neural"])
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="fgemotalk_bench_") as folder:
        scratch = Path(folder)
        if "warp" in chosen:
            from bench.pipelines import byte_compile
            from bench.pipelines import run as bench_pipelines

            byte_compile(REPO)  # as an installed package would be (see byte_compile)
            results.update(bench_pipelines({"pipelines", "fixed", "batch"}, args.rounds,
                                           lambda line: print(line, file=sys.stderr)))
        if "memory" in chosen:
            results.update(bench_memory(scratch))
        if "neural" in chosen:
            from bench.neural import bench_neural

            results.update(bench_neural(rounds=args.rounds, compile_check=args.neural_compile))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.3f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
