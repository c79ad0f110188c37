"""``fgemotalk prepare``: talking-head videos (or DISFA) -> face crops for training.

Input is any folder of videos, nested or not (HDTF, CelebV-HQ and MEAD are just nested
folders). Each clip becomes ``clips/<id>/000000.jpg ...`` (one fixed square box per clip,
see ``crops``), ``audio.wav`` (16 kHz mono, when the clip has a non-silent track) and
``clip.json`` (frame count, frame times, box), written last as the completion marker.
A folder holding DISFA-style label files (``*_auN.txt``) is prepared as AU-labelled crops
instead (``disfa``). ``manifest.json`` lists every clip, its split (train / held_out, chosen
by clip so no identity leaks between them) and every skipped clip with the reason.

Resumable: finished clips and clips skipped before are not processed again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from fgemotalk_cli.errors import InputError, MediaError
from fgemotalk_cli.faces.detector import FaceMeshDetector
from fgemotalk_cli.media.audio import load_audio
from fgemotalk_cli.media.progress import frame_progress
from fgemotalk_cli.media.video import DecodeReport, iter_frames, probe_video
from fgemotalk_cli.training.crops import (
    AU_LABEL_PATTERN,
    SUPPORTED_SIZES,
    VIDEO_SUFFIXES,
    NoStableFace,
    crop_resize,
    finish_clip,
    fresh_partial_dir,
    union_box,
    unique_clip_ids,
    write_image,
    write_json_atomic,
)
from fgemotalk_cli.training.disfa import Subject, find_subjects, prepare_subject

MANIFEST_FORMAT = "fgemotalk-dataset"
MANIFEST_VERSION = 1
SILENCE_PEAK = 1e-4  # a track whose loudest sample is below this is digital silence


@dataclass(frozen=True)
class PrepareOptions:
    """How clips are cut. Defaults are ours; the paper only says "fixed box"."""

    size: int = 256
    box_scale: float = 1.6
    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = 95
    max_frames: int | None = None  # keep only the first N frames of each clip
    min_frames: int = 8
    detect_every: int = 5  # run the face mesh on every Nth frame (tracking mode)
    detection_side: int = 640  # analyse frames downscaled to this longer side
    min_face_fraction: float = 0.5  # skip clips where fewer of the analysed frames show a face
    held_out_fraction: float = 0.05
    workers: int = 1

    def validate(self) -> None:
        if self.size not in SUPPORTED_SIZES:
            raise InputError(f"--size must be one of {SUPPORTED_SIZES}, got {self.size}")
        if self.image_format not in ("jpg", "png"):
            raise InputError("image_format must be 'jpg' or 'png'")
        if self.box_scale < 1:
            raise InputError("box_scale must be at least 1 (the face must fit in the crop)")
        if self.max_frames is not None and self.max_frames < 2:
            raise InputError("max_frames must be at least 2 (training pairs two frames)")
        if self.detect_every < 1 or self.min_frames < 2 or self.workers < 1:
            raise InputError("detect_every and workers must be >= 1, min_frames >= 2")
        if not 0 <= self.held_out_fraction < 1:
            raise InputError("held_out_fraction must be in [0, 1)")


def prepare_dataset(
    videos_dir: str | Path, output_dir: str | Path, size: int = 256,
    show_progress: bool = True, **options: Any,
) -> dict[str, Any]:
    """Prepare every clip under ``videos_dir`` into ``output_dir``; returns a summary dict.

    ``options`` are ``PrepareOptions`` fields (max_frames, box_scale, workers, ...).
    """
    settings = PrepareOptions(size=size, **options)
    settings.validate()
    root = Path(videos_dir)
    if not root.is_dir():
        raise InputError(f"input folder not found: {root}")
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    _check_existing_manifest(output, settings)
    label_files = [p for p in sorted(root.rglob("*.txt")) if AU_LABEL_PATTERN.match(p.name)]
    jobs: list[tuple[str, Subject]] | list[tuple[str, Path]]
    if label_files:
        jobs = find_subjects(root, label_files)
        worker: Callable[..., dict] = prepare_subject
        kind = "disfa"
    else:
        videos = sorted(p for p in root.rglob("*")
                        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                        and not p.name.startswith("."))
        if not videos:
            raise InputError(f"no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) under {root}")
        ids = unique_clip_ids([v.relative_to(root) for v in videos])
        jobs = [(ids[v.relative_to(root)], v) for v in videos]
        worker = prepare_clip
        kind = "video"
    return _run_jobs(jobs, worker, kind, root, output, settings, show_progress)


def _check_existing_manifest(output: Path, settings: PrepareOptions) -> None:
    manifest = output / "manifest.json"
    if manifest.is_file():
        previous = json.loads(manifest.read_text(encoding="utf-8"))
        if previous.get("size") != settings.size:
            raise InputError(
                f"{output} already holds a dataset at {previous.get('size')} px; use another "
                f"output folder for {settings.size} px"
            )


def _run_jobs(jobs: list, worker: Callable[..., dict], kind: str, root: Path, output: Path,
              settings: PrepareOptions, show_progress: bool) -> dict[str, Any]:
    clips_dir, skipped_dir = output / "clips", output / "skipped"
    clips_dir.mkdir(exist_ok=True)
    skipped_dir.mkdir(exist_ok=True)
    records: dict[str, dict] = {}
    skipped: dict[str, dict] = {}
    todo = []
    for clip_id, source in jobs:
        done = clips_dir / clip_id / "clip.json"
        failed = skipped_dir / f"{clip_id}.json"
        if done.is_file():
            records[clip_id] = json.loads(done.read_text(encoding="utf-8"))
        elif failed.is_file():
            skipped[clip_id] = json.loads(failed.read_text(encoding="utf-8"))
        else:
            todo.append((clip_id, source))
    already = len(records) + len(skipped)
    warnings: list[str] = []
    with frame_progress(f"prepare {kind}", len(todo), show_progress) as progress:
        for clip_id, outcome in _map(worker, todo, clips_dir, settings):
            if "error" in outcome:
                skipped[clip_id] = outcome
                write_json_atomic(skipped_dir / f"{clip_id}.json", outcome)
                warnings.append(f"skipped {outcome['source']}: {outcome['error']}")
            else:
                records[clip_id] = outcome
            progress.advance(1)
    manifest = _write_manifest(output, kind, root, settings, records, skipped)
    return {
        "output": str(output), "kind": kind, "size": settings.size,
        "clips": len(records), "held_out": sum(c["split"] == "held_out"
                                               for c in manifest["clips"]),
        "frames": sum(c["frames"] for c in manifest["clips"]),
        "with_audio": sum(bool(c.get("audio")) for c in manifest["clips"]),
        "skipped": len(skipped),
        "skipped_clips": [f"{s['source']}: {s['error']}" for s in manifest["skipped"]][:20],
        "processed_now": len(todo), "already_done": already,
        "manifest": str(output / "manifest.json"),
        "warnings": warnings,
    }


def _map(worker: Callable[..., dict], todo: list, clips_dir: Path, settings: PrepareOptions):
    """(clip id, outcome) per job, in a process pool when ``workers`` > 1."""
    if settings.workers == 1 or len(todo) < 2:
        for clip_id, source in todo:
            yield clip_id, _guarded(worker, clip_id, source, clips_dir, settings)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(settings.workers) as pool:
        futures = [(clip_id, pool.submit(_guarded, worker, clip_id, source, clips_dir,
                                         settings)) for clip_id, source in todo]
        for clip_id, future in futures:
            yield clip_id, future.result()


def _guarded(worker: Callable[..., dict], clip_id: str, source: Any, clips_dir: Path,
             settings: PrepareOptions) -> dict:
    """Run one clip; a clip that cannot be used becomes a skip record, not a crash.

    Anything else (a full disk, Ctrl-C) stops the run, after removing the clip's half-written
    folder so that nothing partial is left.
    """
    partial = clips_dir / f"{clip_id}.partial"
    try:
        return worker(clip_id, source, clips_dir, settings)
    except (NoStableFace, MediaError, InputError) as error:
        _remove_partial(partial)
        return {"id": clip_id, "source": str(source), "error": str(error)}
    except BaseException:
        _remove_partial(partial)
        raise


def _remove_partial(partial: Path) -> None:
    if partial.exists():
        shutil.rmtree(partial, ignore_errors=True)


def prepare_clip(clip_id: str, video: Path, clips_dir: Path, settings: PrepareOptions) -> dict:
    """Detect faces, fix the clip's box, write the crops, the audio and ``clip.json``."""
    info = probe_video(video)
    box = _clip_box(video, info.width, info.height, settings, settings.max_frames)
    partial = fresh_partial_dir(clips_dir, clip_id)
    times: list[float] = []
    decoding = DecodeReport()
    for frame in iter_frames(video, report=decoding):
        if settings.max_frames is not None and frame.index >= settings.max_frames:
            break
        name = f"{len(times):06d}.{settings.image_format}"
        write_image(partial / name, crop_resize(frame.image, box, settings.size),
                    settings.jpeg_quality)
        times.append(round(frame.time_seconds, 6))
    if decoding.warning():  # glitched or repeated frames would teach the network artefacts
        raise MediaError(decoding.warning())
    if len(times) < settings.min_frames:
        raise NoStableFace(f"only {len(times)} frames (need {settings.min_frames})")
    audio_note = _write_audio(video, partial / "audio.wav", times, info) if info.has_audio \
        else "no audio track"
    record = {
        "id": clip_id, "source": str(video), "frames": len(times), "fps": str(info.fps),
        "times": times, "box": box.to_list(), "frame_size": [info.width, info.height],
        "image_format": settings.image_format, "audio": audio_note is None,
        "audio_note": audio_note,
    }
    finish_clip(partial, clip_id, record)
    return record


def _clip_box(video: Path, width: int, height: int, settings: PrepareOptions,
              limit: int | None):
    """The clip's fixed box from faces on every ``detect_every``-th frame (downscaled)."""
    boxes: list[tuple[float, float, float, float]] = []
    analysed = 0
    with FaceMeshDetector(video_mode=True, max_faces=1) as detector:
        for frame in iter_frames(video, max_size=settings.detection_side):
            if limit is not None and frame.index >= limit:
                break
            if frame.index % settings.detect_every:
                continue
            analysed += 1
            faces = detector.detect(frame.image)
            if faces:
                factor = width / frame.image.shape[1]
                x0, y0, x1, y1 = faces[0].bbox()
                boxes.append((x0 * factor, y0 * factor, x1 * factor, y1 * factor))
    if analysed == 0:
        raise NoStableFace("no decodable frames")
    if len(boxes) < settings.min_face_fraction * analysed:
        raise NoStableFace(f"a face in only {len(boxes)} of {analysed} analysed frames")
    return union_box(boxes, width, height, settings.box_scale)


def _write_audio(video: Path, target: Path, times: list[float], info) -> str | None:
    """16 kHz mono wav covering the kept frames; returns why there is none, or None."""
    import numpy as np
    import soundfile


    try:
        samples, rate = load_audio(video, sample_rate=16000)
    except MediaError as error:
        return f"audio unreadable: {error}"
    end = int(round((times[-1] + 1 / float(info.fps)) * rate))
    samples = samples[:end]
    if samples.size == 0 or float(np.abs(samples).max()) < SILENCE_PEAK:
        return "silent audio track"
    soundfile.write(str(target), samples, rate, subtype="PCM_16")
    return None


def held_out_ids(clip_ids: list[str], fraction: float) -> set[str]:
    """Clips held out for evaluation, chosen by a hash of the id (stable as clips are added).

    With two or more clips at least one is held out, so a small dataset still has a split.
    """
    def position(clip_id: str) -> float:
        return int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16) / 2 ** 32

    chosen = {c for c in clip_ids if position(c) < fraction}
    if not chosen and len(clip_ids) >= 2 and fraction > 0:
        chosen = {min(clip_ids, key=position)}
    return chosen


def _write_manifest(output: Path, kind: str, root: Path, settings: PrepareOptions,
                    records: dict[str, dict], skipped: dict[str, dict]) -> dict:
    held_out = held_out_ids(sorted(records), settings.held_out_fraction)
    clips = []
    for clip_id in sorted(records):
        record = records[clip_id]
        entry = {key: value for key, value in record.items() if key != "times"}
        entry["split"] = "held_out" if clip_id in held_out else "train"
        clips.append(entry)
    manifest = {
        "format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION, "kind": kind,
        "size": settings.size, "source": str(root.resolve()),
        "options": asdict(settings),
        "clips": clips,
        "skipped": [skipped[c] for c in sorted(skipped)],
    }
    if kind == "disfa":
        au_sets = [set(c["aus"]) for c in clips]
        manifest["aus"] = sorted(set.intersection(*au_sets)) if au_sets else []
    write_json_atomic(output / "manifest.json", manifest)
    return manifest
