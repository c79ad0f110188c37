"""Warp engine self-reenactment of the mouth region, identity and speed, for before/after
comparisons of the realism work (bench/self_reenact.py has the full-frame and head-motion table).

    python bench/self_reenact_mouth.py --label after
    PYTHONPATH=/work/main python bench/self_reenact_mouth.py --label before --code /work/main

Frame 0 of each talking clip is the source and the clip itself the driver (reference = frame
0), every --stride-th frame up to --frames frames. Per clip, against the real frame:
- mouth-region SSIM (luma, a box around the real frame's lips, grown by 0.25 IOD) of the
  reenacted frame and of the still frame 0 (the baseline any motion must beat), and the same
  over the whole face mesh's box;
- expression error: mean distance of the pose-free face-mesh shapes (IOD units), of the
  re-detected reenacted frame and of frame 0;
- identity: dlib descriptor distance from frame 0, mean per clip;
- speed: ms per frame of the engine's reenact and speak-style render (mouth shapes cycling),
  median of three passes.
Writes <out>/<label>_self.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from checkouts import add_before_after_arguments, use_checkout

REPO = Path(__file__).resolve().parents[1]
CLIPS = ("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "sadtalker_WDA_KatieHill_000.mp4",
         "vexpress_vasa1_3_gt.mp4", "vexpress_vasa1_7_gt.mp4", "lia_vox_driving2.mp4",
         "liveportrait_d10.mp4", "liveportrait_d11.mp4", "liveportrait_d12.mp4",
         "liveportrait_d20.mp4")
LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91,
        146)


def mouth_box(points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    iod = float(np.linalg.norm(points[263, :2] - points[33, :2]))
    lips = points[list(LIPS), :2]
    x0, y0 = np.floor(lips.min(0) - 0.25 * iod).astype(int)
    x1, y1 = np.ceil(lips.max(0) + 0.25 * iod).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def face_box(points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The face mesh's bounding box (brows to chin), clipped to the frame."""
    x0, y0 = np.floor(points[:468, :2].min(0)).astype(int)
    x1, y1 = np.ceil(points[:468, :2].max(0)).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def clip_frames(path: Path, stride: int, count: int) -> list[np.ndarray]:
    from fgemotalk_cli.media.video import iter_frames

    frames = []
    for number, frame in enumerate(iter_frames(path)):
        if number % stride == 0:
            frames.append(frame.image)
            if len(frames) == count:
                break
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_before_after_arguments(parser, REPO / "bench" / "results" / "realism")
    parser.add_argument("--stride", type=int, default=6)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--no-identity", action="store_true")
    parser.add_argument("--clips", default=",".join(CLIPS), help="comma-separated clip names")
    parser.add_argument("--detail", action="store_true",
                        help="the driver's expression detail as ratio images (expression_detail)")
    parser.add_argument("--gaze", default=None, help="driver or source (checkouts with --gaze)")
    args = parser.parse_args()
    use_checkout(args.code)
    from fgemotalk_cli.engines.base import DriverSample
    from fgemotalk_cli.engines.warp.engine import WarpEngine, edit_source
    from fgemotalk_cli.evaluation.metrics import expression_distance, expression_shape, ssim
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.faces.landmarks import estimate_head_pose
    from fgemotalk_cli.speech.visemes import MouthShape

    embedder = None
    if not args.no_identity:
        from fgemotalk_cli.evaluation.identity import IdentityEmbedder, identity_distance
        embedder = IdentityEmbedder()
    engine_options: dict[str, object] = {}
    if args.detail:
        engine_options["expression_detail"] = True
    if args.gaze:
        engine_options["gaze"] = args.gaze
    engine = WarpEngine(**engine_options)  # type: ignore[arg-type]
    rows = []
    with FaceMeshDetector(video_mode=False, max_faces=1) as detector:
        for name in args.clips.split(","):
            frames = clip_frames(args.media / "driving" / name, args.stride, args.frames)
            faces = [detector.detect(frame) for frame in frames]
            if not faces[0]:
                continue
            source, source_face = frames[0], faces[0][0]
            state = engine.prepare(source, source_face)
            engine.set_reference(state, DriverSample(source, source_face, 0.0))
            samples = [DriverSample(frame, found[0] if found else None, k * args.stride / 25)
                       for k, (frame, found) in enumerate(zip(frames, faces))]
            started = time.perf_counter()
            generated = engine.reenact(state, samples, [{}] * len(samples), "add")
            reenact_ms = 1000 * (time.perf_counter() - started) / len(samples)
            shapes = [MouthShape(jaw_open=0.5 + 0.5 * np.sin(k), lip_width=0.3 * np.cos(k))
                      for k in range(len(samples))]
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                for shape in shapes:
                    edit_source(state.source, {45: 0.0}, shape)
                timings.append(1000 * (time.perf_counter() - started) / len(shapes))
            ssim_gen, ssim_still, expr_gen, expr_still, identity = [], [], [], [], []
            face_gen, face_still = [], []
            source_id = embedder.embed(source) if embedder else None
            for k in range(1, len(frames)):
                if not faces[k]:
                    continue
                real = np.asarray(faces[k][0].points)
                x0, y0, x1, y1 = mouth_box(real, frames[k].shape)
                ssim_gen.append(ssim(generated[k][y0:y1, x0:x1], frames[k][y0:y1, x0:x1]))
                ssim_still.append(ssim(source[y0:y1, x0:x1], frames[k][y0:y1, x0:x1]))
                x0, y0, x1, y1 = face_box(real, frames[k].shape)
                face_gen.append(ssim(generated[k][y0:y1, x0:x1], frames[k][y0:y1, x0:x1]))
                face_still.append(ssim(source[y0:y1, x0:x1], frames[k][y0:y1, x0:x1]))
                real_shape = expression_shape(faces[k][0], estimate_head_pose(faces[k][0]))
                again = detector.detect(generated[k])
                if again:
                    shape = expression_shape(again[0], estimate_head_pose(again[0]))
                    expr_gen.append(expression_distance(shape, real_shape))
                expr_still.append(expression_distance(
                    expression_shape(source_face, estimate_head_pose(source_face)), real_shape))
                if embedder is not None and source_id is not None:
                    found = embedder.embed(generated[k])
                    if found is not None:
                        identity.append(identity_distance(found, source_id))
            rows.append({
                "clip": name, "frames": len(ssim_gen),
                "mouth_ssim": float(np.mean(ssim_gen)),
                "mouth_ssim_still": float(np.mean(ssim_still)),
                "face_ssim": float(np.mean(face_gen)),
                "face_ssim_still": float(np.mean(face_still)),
                "expression_error": float(np.mean(expr_gen)),
                "expression_error_still": float(np.mean(expr_still)),
                "identity_distance": float(np.mean(identity)) if identity else None,
                "reenact_ms": reenact_ms, "speak_ms": float(np.median(timings)),
            })
            row = rows[-1]
            print(f"{name[:34]:34s} ssim {row['mouth_ssim']:.3f} "
                  f"(still {row['mouth_ssim_still']:.3f})  face {row['face_ssim']:.3f} "
                  f"(still {row['face_ssim_still']:.3f})  expr {row['expression_error']:.4f} "
                  f"(still {row['expression_error_still']:.4f})"
                  f"  id {row['identity_distance'] or float('nan'):.3f}"
                  f"  reenact {reenact_ms:.1f} ms  speak {row['speak_ms']:.1f} ms", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {key: float(np.mean([r[key] for r in rows if r[key] is not None]))
               for key in ("mouth_ssim", "mouth_ssim_still", "face_ssim", "face_ssim_still",
                           "expression_error",
                           "expression_error_still", "identity_distance", "reenact_ms",
                           "speak_ms")}
    (args.out / f"{args.label}_self.json").write_text(json.dumps({"clips": rows,
                                                                  "mean": summary}, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
