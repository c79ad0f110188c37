"""Warp pipelines end to end, each next to its plain peer, interleaved over rounds.

Every measurement is a whole process (start-up included), run as a user runs it: the real
``fgemotalk`` command, and for the peer a plain script that decodes with PyAV and encodes
H.264 (libx264 crf 18 veryfast) plus AAC in one pass, the same encoder settings ours uses.
Rounds interleave ours and the peer (A B A B ...), so a machine that speeds up or slows down
moves both; ratios are taken per round and the median is reported. Wall and CPU seconds
(user + system of the child, all its threads) are both kept: on a shared machine the wall
clock also measures the neighbours, CPU time does not. ``cores_used`` = CPU / wall of our run.

    python bench/pipelines.py --rounds 3            # everything below, JSON + a table
    python bench/pipelines.py --child plain IN OUT  # (used by the above)
    python bench/pipelines.py --baseline-repo OLD   # also OLD's fgemotalk, interleaved

With ``--baseline-repo`` every round runs the baseline checkout's command too (baseline, ours,
peer: B A P B A P ...), and the ``*_baseline_*`` and ``*_vs_baseline_*`` figures are the
before/after of one run on one machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
CLI = [sys.executable, "-m", "fgemotalk_cli"]

REENACT_DRIVERS = ("sadtalker_WDA_KatieHill_000.mp4", "liveportrait_d5.mp4")  # 512x512
PORTRAIT = "liveportrait_s42.jpg"  # 512x512
SPEECH = "sadtalker_RD_Radio31_000.wav"  # 8 s, 16 kHz: 200 frames at 25 fps
EDIT_CLIP = "lia_vox_driving2.mp4"  # 256x256, 221 frames
SPEECH_FRAMES = 200


#: The checkout whose ``fgemotalk`` is measured (``--ours-repo``: e.g. an older tree, for a
#: before/after table); the plain peers always run from this checkout.
OURS_REPO = REPO
#: A second checkout measured in the same rounds (``--baseline-repo``), or None.
BASELINE_REPO: Path | None = None


def measure(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   cwd=cwd or OURS_REPO)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


# The peers, run in a child process: plain decode + encode of a clip, or a still with audio.

def _child_plain(source: str, output: str) -> None:
    from fgemotalk_cli.media.audio import AacTrack
    from fgemotalk_cli.media.encode import VideoWriter
    from fgemotalk_cli.media.video import iter_frames, probe_video

    info = probe_video(Path(source))
    audio = AacTrack.for_source(source, None, None) if info.has_audio else None
    with VideoWriter(output, fps=info.fps, crf=18, preset="veryfast", audio=audio) as writer:
        for frame in iter_frames(Path(source)):
            writer.write(frame.image)


def _child_still(image: str, audio: str, frames: str, output: str) -> None:
    from fgemotalk_cli.media.audio import AacTrack
    from fgemotalk_cli.media.encode import VideoWriter
    from fgemotalk_cli.media.images import load_image

    picture = load_image(Path(image))
    track = AacTrack.for_source(audio, None, None)
    with VideoWriter(output, fps=25, crf=18, preset="veryfast", audio=track) as writer:
        for _ in range(int(frames)):
            writer.write(picture)


def _child(kind: str, arguments: list[str]) -> None:
    {"plain": _child_plain, "still": _child_still}[kind](*arguments)


def _peer(kind: str, *arguments: object) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", kind, *map(str, arguments)]


Pair = tuple[str, list[str], list[str], int]  # name, ours, peer, frames


def pipeline_pairs(scratch: Path) -> list[Pair]:
    portrait = MEDIA / "portraits" / PORTRAIT
    pairs: list[Pair] = []
    for driver_name in REENACT_DRIVERS:
        driver = MEDIA / "driving" / driver_name
        frames = _frame_count(driver)
        pairs.append((f"reenact_{driver.stem}",
                      [*CLI, "reenact", str(portrait), str(driver), "--au", "12=3", "-o",
                       str(scratch / "reenact.mp4"), "--overwrite", "--quiet"],
                      _peer("plain", driver, scratch / "plain.mp4"), frames))
    speech = MEDIA / "audio" / SPEECH
    pairs.append(("speak", [*CLI, "speak", str(portrait), str(speech), "--preset", "happy", "-o",
                            str(scratch / "speak.mp4"), "--overwrite", "--quiet"],
                  _peer("still", portrait, speech, SPEECH_FRAMES, scratch / "still.mp4"),
                  SPEECH_FRAMES))
    clip = MEDIA / "driving" / EDIT_CLIP
    pairs.append(("edit_au_video", [*CLI, "edit-au", str(clip), "--preset", "happy", "-o",
                                    str(scratch / "edit.mp4"), "--overwrite", "--quiet"],
                  _peer("plain", clip, scratch / "plain_edit.mp4"), _frame_count(clip)))
    return pairs


def _frame_count(path: Path) -> int:
    from fgemotalk_cli.media.video import probe_video

    return int(probe_video(path).frame_count)


def interleaved(pairs: list[Pair], rounds: int, log: Callable[[str], None]) -> dict[str, float]:
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, *_ in pairs}
    baseline_runs: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in pairs}
    for round_index in range(rounds):
        load = os.getloadavg()[0]
        for name, ours, peer, _ in pairs:
            if BASELINE_REPO is not None:
                baseline_runs[name].append(measure(ours, cwd=BASELINE_REPO))
            ours_wall, ours_cpu = measure(ours)
            peer_wall, peer_cpu = measure(peer, cwd=REPO)
            runs[name].append((ours_wall, ours_cpu, peer_wall, peer_cpu))
        log(f"round {round_index + 1}/{rounds} done (load average at its start {load:.2f})")
    results: dict[str, float] = {}
    median = statistics.median
    for name, _, _, frames in pairs:
        walls, cpus, peer_walls, peer_cpus = zip(*runs[name])
        results[f"{name}_fps_wall"] = frames / median(walls)
        results[f"{name}_cpu_ms_per_frame"] = 1000 * median(cpus) / frames
        results[f"{name}_vs_plain_wall"] = median(w / p for w, p in zip(walls, peer_walls))
        results[f"{name}_vs_plain_cpu"] = median(c / p for c, p in zip(cpus, peer_cpus))
        results[f"{name}_cores_used"] = median(c / w for c, w in zip(cpus, walls))
        if baseline_runs[name]:
            base_walls, base_cpus = zip(*baseline_runs[name])
            results[f"{name}_baseline_fps_wall"] = frames / median(base_walls)
            results[f"{name}_baseline_cpu_ms_per_frame"] = 1000 * median(base_cpus) / frames
            results[f"{name}_baseline_vs_plain_wall"] = median(
                w / p for w, p in zip(base_walls, peer_walls))
            results[f"{name}_baseline_vs_plain_cpu"] = median(
                c / p for c, p in zip(base_cpus, peer_cpus))
            results[f"{name}_vs_baseline_wall"] = median(
                w / b for w, b in zip(walls, base_walls))
            results[f"{name}_vs_baseline_cpu"] = median(c / b for c, b in zip(cpus, base_cpus))
    return results


def fixed_costs(scratch: Path, rounds: int) -> dict[str, float]:
    portrait = MEDIA / "portraits" / PORTRAIT
    edit = [*CLI, "edit-au", str(portrait), "--au", "12=3", "-o", str(scratch / "edit.png"),
            "--overwrite", "--quiet"]
    helps, edits, baseline_edits = [], [], []
    measure(edit)  # warm the file cache
    for _ in range(rounds):
        helps.append(measure([*CLI, "--help"]))
        if BASELINE_REPO is not None:
            baseline_edits.append(measure(edit, cwd=BASELINE_REPO))
        edits.append(measure(edit))
    median = statistics.median
    results = {
        "help_wall_s": median(w for w, _ in helps), "help_cpu_s": median(c for _, c in helps),
        "edit_au_image_wall_s": median(w for w, _ in edits),
        "edit_au_image_cpu_s": median(c for _, c in edits),
    }
    if baseline_edits:
        results["edit_au_image_baseline_wall_s"] = median(w for w, _ in baseline_edits)
        results["edit_au_image_baseline_cpu_s"] = median(c for _, c in baseline_edits)
    return results


def batch_vs_loop(scratch: Path, rounds: int, jobs_count: int = 20) -> dict[str, float]:
    """20 image edits as one `batch` (1 and 2 workers) against the same 20 commands in a loop."""
    portraits = sorted((MEDIA / "portraits").glob("*"))
    edits = ["12=4", "1=3,2=3", "4=3", "6=3,12=3", "26=3"]
    rows, loop = [], []
    for index in range(jobs_count):
        portrait, au = portraits[index % len(portraits)], edits[index % len(edits)]
        output = scratch / "batch" / f"job{index:02d}.png"
        rows.append(json.dumps({"command": "edit-au", "inputs": [str(portrait)],
                                "output": str(output), "options": {"au": au}}))
        loop.append(f"{' '.join(CLI)} edit-au '{portrait}' --au {au} -o "
                    f"'{scratch / 'loop' / f'job{index:02d}.png'}' --overwrite --quiet")
    jobs = scratch / "jobs.jsonl"
    jobs.write_text("\n".join(rows) + "\n")
    (scratch / "loop").mkdir(exist_ok=True)
    script = scratch / "loop.sh"
    script.write_text("set -e\n" + "\n".join(loop) + "\n")
    timings: dict[str, list[tuple[float, float]]] = {"loop": [], "batch1": [], "batch2": []}
    for _ in range(rounds):
        timings["loop"].append(measure(["sh", str(script)]))
        for workers in (1, 2):
            timings[f"batch{workers}"].append(measure(
                [*CLI, "batch", str(jobs), "--workers", str(workers), "--overwrite", "--quiet"]))
    median = statistics.median
    results = {f"batch{jobs_count}_loop_wall_s": median(w for w, _ in timings["loop"])}
    for workers in (1, 2):
        pairs = list(zip(timings[f"batch{workers}"], timings["loop"]))
        results[f"batch{jobs_count}_workers{workers}_wall_s"] = median(
            w for (w, _), _ in pairs)
        results[f"batch{jobs_count}_workers{workers}_vs_loop_wall"] = median(
            b / lw for (b, _), (lw, _) in pairs)
        results[f"batch{jobs_count}_workers{workers}_vs_loop_cpu"] = median(
            bc / lc for (_, bc), (_, lc) in pairs)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["pipelines", "fixed", "batch"], action="append")
    parser.add_argument("--ours-repo", type=Path, default=REPO,
                        help="Measure the fgemotalk of this checkout (the peers stay ours).")
    parser.add_argument("--baseline-repo", type=Path, default=None,
                        help="Also measure this checkout's fgemotalk, interleaved in the same "
                             "rounds (a before/after table).")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1:])
        return 0
    global OURS_REPO, BASELINE_REPO
    OURS_REPO = args.ours_repo.resolve()
    BASELINE_REPO = None if args.baseline_repo is None else args.baseline_repo.resolve()
    chosen = set(args.only or ["pipelines", "fixed", "batch"])
    for checkout in {OURS_REPO, BASELINE_REPO} - {None}:
        byte_compile(checkout)
    results = run(chosen, args.rounds, lambda line: print(line, file=sys.stderr))
    print(json.dumps(results, indent=2))
    return 0


def byte_compile(checkout: Path) -> None:
    """Write the bytecode of a measured checkout first. Where PYTHONDONTWRITEBYTECODE is set
    (this machine's shells set it) an imported module whose cache is missing or stale is
    compiled again at every start: a fresh or edited checkout would pay ~0.1 s a run that an
    installed one never does."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "fgemotalk_cli", "models"],
                   cwd=checkout, check=True, stdout=subprocess.DEVNULL)


def run(chosen: set[str], rounds: int, log: Callable[[str], None]) -> dict[str, float]:
    results: dict[str, float] = {"load_average_1min_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="fgemotalk_bench_") as folder:
        scratch = Path(folder)
        if "pipelines" in chosen:
            results.update(interleaved(pipeline_pairs(scratch), rounds, log))
        if "fixed" in chosen:
            results.update(fixed_costs(scratch, max(rounds, 5)))
        if "batch" in chosen:
            results.update(batch_vs_loop(scratch, rounds))
    results["load_average_1min_end"] = os.getloadavg()[0]
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
