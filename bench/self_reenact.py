"""Self-reenactment benchmark: frame 0 of a talking clip is the source, the clip the driver.

For each clip the first ``--frames`` frames are cut to a temporary driver, frame 0 is saved as
the portrait, and ``fgemotalk reenact`` (the library call, end to end: decode, track, warp,
encode) renders it. Every output frame is compared with the real frame at the same index, and
so is the still frame 0 (the baseline a warp must beat):

- full-frame PSNR (dB) and SSIM;
- face-region PSNR and SSIM: the real frame's face-mesh box, widened by a quarter;
- head-centre error: distance between the face-oval centroids of output and real frame, in
  the real frame's inter-ocular distances (IOD);
- head-scale error: |IOD_out / IOD_real - 1|.

    PYTHONPATH=$PWD python bench/self_reenact.py --frames 75 [--clips a.mp4 b.mp4] [--sheet s.png]

Results go to bench/results/self_reenact.json and a table on stdout. ``--sheet`` writes a
review sheet (real | ours | still frame 0, at a few frames per clip).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
MEDIA = REPO.parent / "shared" / "media"

#: The talking clips of the shared media (speech with natural head motion).
TALKING_CLIPS = (
    "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "sadtalker_WDA_KatieHill_000.mp4",
    "lia_vox_driving2.mp4", "vexpress_vasa1_3_gt.mp4", "vexpress_vasa1_7_gt.mp4",
    "liveportrait_d10.mp4", "liveportrait_d11.mp4", "liveportrait_d12.mp4",
    "liveportrait_d20.mp4",
)


def cut_clip(driver: Path, frames: int, output: Path) -> list[np.ndarray]:
    """The first ``frames`` frames of ``driver`` as a new clip (no audio), and the frames."""
    from fgemotalk_cli.media.encode import VideoWriter
    from fgemotalk_cli.media.video import iter_frames, probe_video

    info = probe_video(driver)
    images = []
    with VideoWriter(output, fps=info.fps, crf=12, preset="veryfast") as writer:
        for index, frame in enumerate(iter_frames(driver)):
            if index >= frames:
                break
            writer.write(frame.image)
            images.append(frame.image)
    # What the driver holds after our own encode is what the output is compared with.
    return [frame.image for frame in iter_frames(output)]


def face_measures(detector, image: np.ndarray) -> tuple[np.ndarray, float, tuple] | None:
    """Face-oval centroid (pixels), IOD (pixels) and face box of the largest face."""
    from fgemotalk_cli.evaluation.metrics import interocular_distance
    from fgemotalk_cli.faces.mesh_model import FACE_OVAL

    faces = detector.detect(image)
    if not faces:
        return None
    points = np.asarray(faces[0].points)[:, :2]
    oval = points[list(FACE_OVAL)]
    low, high = points.min(0), points.max(0)
    return oval.mean(0), interocular_distance(points), (low, high)


def region(image: np.ndarray, box: tuple) -> np.ndarray:
    low, high = box
    pad = 0.25 * (high - low)
    x0, y0 = np.maximum(np.floor(low - pad).astype(int), 0)
    x1, y1 = np.ceil(high + pad).astype(int)
    return image[y0:y1, x0:x1]


def score(frames: list[np.ndarray], real: list[np.ndarray]) -> dict[str, float]:
    from fgemotalk_cli.evaluation.metrics import psnr, ssim
    from fgemotalk_cli.faces.detector import FaceMeshDetector

    rows: dict[str, list[float]] = {key: [] for key in (
        "psnr", "ssim", "face_psnr", "face_ssim", "centre_error_iod", "scale_error")}
    with FaceMeshDetector(video_mode=False) as detector:
        for ours, truth in zip(frames, real):
            if ours.shape != truth.shape:
                raise SystemExit(f"output size {ours.shape} differs from input {truth.shape}")
            rows["psnr"].append(min(psnr(ours, truth), 60.0))
            rows["ssim"].append(ssim(ours, truth))
            measured_truth = face_measures(detector, truth)
            if measured_truth is None:
                continue
            centre, iod, box = measured_truth
            rows["face_psnr"].append(min(psnr(region(ours, box), region(truth, box)), 60.0))
            rows["face_ssim"].append(ssim(region(ours, box), region(truth, box)))
            measured = face_measures(detector, ours)
            if measured is None:
                continue
            rows["centre_error_iod"].append(float(np.linalg.norm(measured[0] - centre) / iod))
            rows["scale_error"].append(abs(measured[1] / iod - 1.0))
    return {key: float(np.mean(values)) if values else float("nan")
            for key, values in rows.items()}


def run_clip(clip: Path, frames: int, scratch: Path) -> tuple[dict, list, list]:
    from fgemotalk_cli import api
    from fgemotalk_cli.media.images import save_image
    from fgemotalk_cli.media.video import iter_frames
    from fgemotalk_cli.options import RunOptions

    driver = scratch / f"{clip.stem}.driver.mp4"
    real = cut_clip(clip, frames, driver)
    portrait = scratch / f"{clip.stem}.source.png"
    save_image(portrait, real[0])
    output = scratch / f"{clip.stem}.ours.mp4"
    options = RunOptions(engine="warp", show_progress=False, overwrite=True)
    started = time.perf_counter()
    result = api.reenact(portrait, driver, output, options=options)
    seconds = time.perf_counter() - started
    ours = [frame.image for frame in iter_frames(output)][: len(real)]
    still = [real[0]] * len(real)
    row = {"clip": clip.name, "frames": len(ours), "seconds": round(seconds, 2),
           "ours": score(ours, real), "still": score(still, real),
           "warnings": list(result.warnings)}
    return row, ours, real


def review_sheet(samples: list[tuple[str, list, list]], path: Path, per_clip: int = 4) -> None:
    """Rows of real | ours | still frame 0, at evenly spaced frames of each clip."""
    import cv2

    from fgemotalk_cli.media.images import save_image

    cell = 192
    rows = []
    for name, ours, real in samples:
        picks = np.linspace(0, len(ours) - 1, per_clip + 1).round().astype(int)[1:]
        cells = []
        for index in picks:
            for image in (real[index], ours[index]):
                cells.append(cv2.resize(image, (cell, cell), interpolation=cv2.INTER_AREA))
        row = np.concatenate(cells, axis=1)
        cv2.putText(row, name[:40], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        rows.append(row)
    save_image(path, np.concatenate(rows, axis=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--clips", nargs="*", default=list(TALKING_CLIPS))
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "self_reenact.json")
    args = parser.parse_args(argv)
    rows, samples = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.clips:
            clip = Path(name) if Path(name).exists() else MEDIA / "driving" / name
            row, ours, real = run_clip(clip, args.frames, Path(scratch))
            rows.append(row)
            samples.append((clip.name, ours, real))
            o, s = row["ours"], row["still"]
            print(f"{clip.name[:42]:42s} PSNR {o['psnr']:5.2f} vs {s['psnr']:5.2f}  "
                  f"SSIM {o['ssim']:.3f} vs {s['ssim']:.3f}  face PSNR {o['face_psnr']:5.2f} vs "
                  f"{s['face_psnr']:5.2f}  centre {o['centre_error_iod']:.3f} vs "
                  f"{s['centre_error_iod']:.3f} IOD  scale {o['scale_error']:.3f} vs "
                  f"{s['scale_error']:.3f}  ({row['seconds']} s)", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=1))
    if args.sheet is not None:
        review_sheet(samples, args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
