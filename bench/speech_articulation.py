"""How far the warp engine's speech opens the mouth, per phone class, face by face.

    python bench/speech_articulation.py --label after
    PYTHONPATH=/work/main python bench/speech_articulation.py --label before --code /work/main

For every portrait in --media/portraits and each speech audio, the mouth track of `speak` is
applied to the portrait's AU geometry (the target mesh the warp follows; no rendering) and the
inner-lip opening is measured at the midline, in inter-ocular distances (IOD) of the face frame,
at the frames whose centre falls inside a phone of each class (open vowels AA AH AE AO AW AY OW,
other vowels, bilabials P B M, other consonants) and over all speech frames (90th percentile).
Real talking clips give the reference: the same opening detected by the face mesh on each clip
(median and 90th percentile over its frames).

Face-independence is the spread across portraits: the ratio of the largest to the smallest
per-portrait open-vowel opening (1.0 = every face articulates alike). Writes
<out>/<label>_articulation.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
from checkouts import add_before_after_arguments, use_checkout

REPO = Path(__file__).resolve().parents[1]
AUDIOS = ("sadtalker_RD_Radio31_000.wav", "sadtalker_RD_Radio34_002.wav", "vexpress_tys_aud.mp3",
          "sadtalker_deyu.wav")
REAL_CLIPS = ("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "sadtalker_WDA_KatieHill_000.mp4",
              "vexpress_vasa1_3_gt.mp4", "vexpress_vasa1_7_gt.mp4", "liveportrait_d20.mp4",
              "lia_vox_driving2.mp4")
CLASSES = {
    "open_vowel": {"AA", "AH", "AE", "AO", "AW", "AY", "OW"},
    "other_vowel": {"EH", "EY", "ER", "IH", "IY", "UH", "UW", "OY"},
    "bilabial": {"P", "B", "M"},
}
UPPER_MID, LOWER_MID = 13, 14  # inner lip midpoints of the MediaPipe mesh
FPS = Fraction(25)


def opening_iod(face_points: np.ndarray) -> float:
    """Inner-lip gap at the midline in the face frame (IOD units), never negative."""
    return max(float(face_points[LOWER_MID, 1] - face_points[UPPER_MID, 1]), 0.0)


def phone_class(phone: str) -> str:
    bare = phone.rstrip("012").upper()
    for name, members in CLASSES.items():
        if bare in members:
            return name
    return "other"


def speech_tracks(media: Path) -> dict[str, object]:
    from fgemotalk_cli.media.audio import load_audio
    from fgemotalk_cli.speech.mouth import mouth_track

    tracks = {}
    for name in AUDIOS:
        wave, _ = load_audio(media / "audio" / name, sample_rate=16000, mono=True)
        n_frames = int(np.ceil(len(wave) / 16000 * float(FPS)))
        language = "de" if "deyu" in name else "en"
        tracks[name] = mouth_track(wave, 16000, FPS, n_frames, language=language)
    return tracks


def frame_classes(track: object) -> list[str]:
    """Phone class of each frame ('' outside speech; 'speech' on the energy path)."""
    n = track.n_frames  # type: ignore[attr-defined]
    times = (np.arange(n) + 0.5) / float(FPS)
    labels = ["speech" if e > 0.15 else "" for e in track.energy]  # type: ignore[attr-defined]
    for phone in track.phones:  # type: ignore[attr-defined]
        inside = np.flatnonzero((times >= phone.start_s) & (times < phone.end_s))
        for index in inside:
            labels[index] = phone_class(phone.phone) if phone.phone != "SIL" else ""
    return labels


def portrait_openings(geometry: object, track: object) -> np.ndarray:
    controls = track.controls()  # type: ignore[attr-defined]
    from fgemotalk_cli.speech.visemes import CONTROL_NAMES, MouthShape

    face = geometry.face  # type: ignore[attr-defined]
    out = np.zeros(len(controls))
    for index, row in enumerate(controls):
        shape = MouthShape(**dict(zip(CONTROL_NAMES, map(float, row))))
        out[index] = opening_iod(face + geometry.offsets({}, shape))  # type: ignore[attr-defined]
    return out


def real_reference(media: Path, stride: int) -> dict[str, dict[str, float]]:
    from fgemotalk_cli.engines.warp import layout as L
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.video import iter_frames

    reference = {}
    with FaceMeshDetector() as detector:
        for name in REAL_CLIPS:
            openings = []
            for number, frame in enumerate(iter_frames(media / "driving" / name)):
                if number % stride:
                    continue
                faces = detector.detect(frame.image)
                if faces:
                    points = np.asarray(faces[0].points, np.float64)
                    openings.append(opening_iod(L.face_frame(points).to_face(points)))
            values = np.asarray(openings)
            reference[name] = {"median": float(np.median(values)),
                               "p90": float(np.percentile(values, 90)),
                               "p98": float(np.percentile(values, 98)),
                               "frames": len(values)}
    return reference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_before_after_arguments(parser, Path("/tmp/fgemotalk_articulation"))
    parser.add_argument("--real-stride", type=int, default=3)
    parser.add_argument("--no-real", action="store_true", help="skip the real-clip reference")
    args = parser.parse_args()
    use_checkout(args.code)
    from fgemotalk_cli.engines.warp.au_geometry import AUGeometry
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import downscale_to_max_side, load_image

    tracks = speech_tracks(args.media)
    labels = {name: frame_classes(track) for name, track in tracks.items()}
    rows: dict[str, dict[str, float]] = {}
    for path in sorted((args.media / "portraits").iterdir()):
        image = downscale_to_max_side(load_image(path), 768)
        geometry = AUGeometry.from_landmarks(detect_source_face(image))
        by_class: dict[str, list[float]] = {}
        speech: list[float] = []
        for name, track in tracks.items():
            openings = portrait_openings(geometry, track)
            for value, label in zip(openings, labels[name]):
                if label:
                    speech.append(value)
                    by_class.setdefault(label, []).append(value)
        row = {label: float(np.median(values)) for label, values in by_class.items()}
        row["speech_p90"] = float(np.percentile(speech, 90))
        row["speech_p98"] = float(np.percentile(speech, 98))
        row["rest_opening"] = opening_iod(geometry.face)
        rows[path.stem] = row
    open_vowels = np.array([row["open_vowel"] for row in rows.values()])
    p90 = np.array([row["speech_p90"] for row in rows.values()])
    summary = {
        "open_vowel_median_iod": float(np.median(open_vowels)),
        "open_vowel_min_iod": float(open_vowels.min()),
        "open_vowel_max_over_min": float(open_vowels.max() / max(open_vowels.min(), 1e-6)),
        "speech_p90_median_iod": float(np.median(p90)),
        "speech_p90_max_over_min": float(p90.max() / max(p90.min(), 1e-6)),
        "speech_p98_median_iod": float(np.median([row["speech_p98"] for row in rows.values()])),
    }
    real = {} if args.no_real else real_reference(args.media, args.real_stride)
    print(f"{'portrait':28s} {'rest':>6s} {'open V':>7s} {'other V':>7s} {'P/B/M':>6s} "
          f"{'cons.':>6s} {'p90':>6s}   (inner-lip gap at the midline, IOD)")
    for name, row in rows.items():
        print(f"{name:28s} {row['rest_opening']:6.3f} {row.get('open_vowel', 0):7.3f} "
              f"{row.get('other_vowel', 0):7.3f} {row.get('bilabial', 0):6.3f} "
              f"{row.get('other', 0):6.3f} {row['speech_p90']:6.3f}")
    for key, value in summary.items():
        print(f"{key}: {value:.3f}")
    for name, values in real.items():
        print(f"real {name:44s} median {values['median']:.3f}  p90 {values['p90']:.3f}  "
              f"p98 {values['p98']:.3f} IOD")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"portraits": rows, "summary": summary, "real": real}
    (args.out / f"{args.label}_articulation.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
