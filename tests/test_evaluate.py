"""``evaluate_video`` on real clips, and the AU-response study with a stand-in edit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.errors import AUError, InputError
from fgemotalk_cli.evaluation.au_study import au_response_study
from fgemotalk_cli.evaluation.emotion import EMOTIONS, EmotionClassifier
from fgemotalk_cli.evaluation.evaluate import evaluate_video
from fgemotalk_cli.media.images import load_image


def _clip(driving_clips: list[Path], name: str) -> Path:
    return next(p for p in driving_clips if p.name == name)


@pytest.fixture(scope="module")
def blink_clip(driving_clips) -> Path:
    return _clip(driving_clips, "liveportrait_d1.mp4")  # 16 frames, 512x512


@pytest.fixture(scope="module")
def first_frame(blink_clip: Path, tmp_path_factory) -> Path:
    from fgemotalk_cli.media.images import save_image
    from fgemotalk_cli.media.video import iter_frames

    path = tmp_path_factory.mktemp("source") / "first_frame.png"
    save_image(path, next(iter(iter_frames(blink_clip))).image)
    return path


def test_a_clip_against_itself_is_perfect(blink_clip: Path, first_frame: Path) -> None:
    report = evaluate_video(blink_clip, reference=blink_clip, source_image=first_frame,
                            target_emotion="neutral", sample_every=4)
    assert report.frames == report.frames_compared == report.frames_with_face == 16
    assert report.psnr_db == math.inf
    assert report.ssim == pytest.approx(1.0)
    assert report.apd_degrees == pytest.approx(0.0, abs=1e-6)
    assert report.aed_iod == pytest.approx(0.0, abs=1e-6)
    assert report.aed_au == pytest.approx(0.0, abs=1e-6)
    assert report.aed_au_per_au is not None and "6" not in report.aed_au_per_au  # not estimated
    assert report.jitter_iod == pytest.approx(report.reference_jitter_iod)
    assert report.jitter_iod is not None and report.jitter_iod < 0.05
    assert report.frames_sampled == 4
    assert report.identity_distance is not None and report.identity_distance < 0.4
    assert report.identity_preserved is True
    assert report.emotion_accuracy is not None and 0.0 <= report.emotion_accuracy <= 1.0
    assert report.emotion_probabilities is not None
    assert sum(report.emotion_probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert report.lpips is None

    summary = report.to_dict()
    json.dumps(summary, allow_nan=False)  # strict JSON: no Infinity
    assert summary["psnr_db"] is None
    assert any("psnr_db is infinite" in note for note in summary["warnings"])
    assert any("--lpips-weights" in note for note in summary["warnings"])


def test_different_clips_score_worse(driving_clips, blink_clip: Path, tmp_path: Path) -> None:
    from tests.test_metrics import _random_alexnet

    other = _clip(driving_clips, "liveportrait_d2.mp4")
    weights = _random_alexnet(tmp_path / "alex.pth", lpips_keys=True)
    report = evaluate_video(blink_clip, reference=other, lpips_weights=weights, max_frames=6)
    assert report.frames == report.frames_compared == 6
    assert report.lpips is not None and report.lpips > 0
    assert report.psnr_db is not None and 5 < report.psnr_db < 35
    assert report.ssim is not None and report.ssim < 0.9
    assert report.apd_degrees is not None and report.apd_degrees > 0
    assert report.aed_iod is not None and report.aed_iod > 0
    assert report.aed_au is not None and report.aed_au > 0.05
    assert report.identity_distance is None and report.emotion_accuracy is None


def test_bad_arguments_are_input_errors(tmp_path: Path, blink_clip: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        evaluate_video(tmp_path / "absent.mp4")
    with pytest.raises(InputError, match="unknown emotion"):
        evaluate_video(blink_clip, target_emotion="joy")


def _lift_upper_face(image: np.ndarray, aus: dict[int, float]) -> np.ndarray:
    """Stand-in engine: moves the upper face up by 2 px per intensity step, the rest stays."""
    import cv2

    height, width = image.shape[:2]
    shift = 2.0 * sum(aus.values())
    rows = np.arange(height, dtype=np.float32)[:, None]
    weight = np.clip((0.55 * height - rows) / (0.1 * height), 0.0, 1.0)  # 1 above the eyes
    map_y = np.repeat(rows + shift * weight, width, axis=1).astype(np.float32)
    map_x = np.repeat(np.arange(width, dtype=np.float32)[None, :], height, axis=0)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_au_response_study(portraits, tmp_path: Path) -> None:
    image = load_image(next(p for p in portraits if p.name == "sadtalker_happy.png"))
    table = au_response_study({"happy": image}, aus=[1, 12], intensities=[0, 2, 5],
                              edit_fn=_lift_upper_face, classifier=EmotionClassifier.load())
    assert len(table.rows) == 6
    brows = {row.intensity: row for row in table.rows if row.au == 1}
    mouth = {row.intensity: row for row in table.rows if row.au == 12}
    assert brows[0].region_displacement_iod == pytest.approx(0.0, abs=1e-3)
    assert 0.01 < brows[2].region_displacement_iod < brows[5].region_displacement_iod
    assert brows[5].region_displacement_iod > brows[5].elsewhere_displacement_iod
    assert mouth[5].region_displacement_iod < mouth[5].elsewhere_displacement_iod
    assert set(brows[5].emotion) == set(EMOTIONS)
    assert brows[0].emotion_change == pytest.approx(dict.fromkeys(EMOTIONS, 0.0), abs=1e-6)

    written = json.loads(table.write_json(tmp_path / "study.json").read_text())
    assert len(written["rows"]) == 6 and len(written["summary"]) == 6
    plot = table.write_plot(tmp_path / "study.png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_au_response_study_rejects_unknown_aus(portraits) -> None:
    image = load_image(next(p for p in portraits if p.name == "sadtalker_happy.png"))
    with pytest.raises(AUError):
        au_response_study([image], aus=[99], intensities=[1], edit_fn=_lift_upper_face)


def test_aed_reads_the_mesh_aus_against_each_videos_rest(driving_clips) -> None:
    """A sad mouth against the same face at rest: AU 15's error comes from the mesh (the
    blendshape score misses it); with the sad frame as its own rest there is no error."""
    from itertools import islice

    from fgemotalk_cli.evaluation.evaluate import _frame_aus, _mesh_signals
    from fgemotalk_cli.expression.blendshapes import BlendshapeReader
    from fgemotalk_cli.media.video import iter_frames

    clip = _clip(driving_clips, "liveportrait_d18.mp4")
    frames = [f.image for i, f in enumerate(islice(iter_frames(clip), 177)) if i in (0, 176)]
    with BlendshapeReader(video_mode=False) as reader:
        rest, sad = (reader.read(image) for image in frames)
    assert _frame_aus(sad, None)[15] < 1.0  # blendshape scores alone
    assert _frame_aus(sad, _mesh_signals(rest))[15] > 3.0
    assert _frame_aus(sad, _mesh_signals(sad))[15] == 0.0
    assert _frame_aus(sad, _mesh_signals(rest))[12] == _frame_aus(sad, None)[12]
