"""Do the presets read as their emotion? fer's probability of each preset's emotion, per portrait.

`python bench/preset_emotions.py [--presets happy,sad_emfacs] [--portraits s42,d19]`: every
shared portrait (long side <= 512 px) is edited with each preset (``edit-au``'s path: the
warp engine, calibrated on demand, ``add`` mode) and read by the emotion classifier that ships
with fer (:mod:`fgemotalk_cli.evaluation.emotion`) and by dlib's identity embedding. Prints per
preset the share of faces whose probability of the preset's emotion rose over the unedited
portrait, the mean rise, and the identity distance (mean / worst); per face with ``--verbose``.
Run it in two checkouts (``PYTHONPATH`` = each) to compare them. A preset may be a YAML file
(``--presets /tmp/sad_17.yaml``: its emotion is that of the bundled preset its file name starts
with); ``--readout 15,17`` adds what the AU read-out of the study (:mod:`fgemotalk_cli.
evaluation.au_readout_study`) measures of those AUs in each edit, against the portrait (mean
over the faces with room for the AU).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The emotion each bundled preset stands for (fer's class names).
PRESET_EMOTIONS = {"happy": "happy", "surprise": "surprise", "anger": "angry",
                   "disgust": "disgust", "fear": "fear", "sad_emfacs": "sad", "sad": "sad"}


def main() -> int:
    sys.path.insert(0, str(REPO))
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.evaluation.au_readout_study import change_intensity, has_room
    from fgemotalk_cli.evaluation.emotion import EmotionClassifier
    from fgemotalk_cli.evaluation.identity import IdentityEmbedder, identity_distance
    from fgemotalk_cli.expression.aus import load_preset
    from fgemotalk_cli.expression.blendshapes import BlendshapeReader
    from fgemotalk_cli.expression.readout import CHANGE_RULES, READOUT_RULES
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--presets", default="happy,surprise,anger,disgust,fear,sad_emfacs")
    parser.add_argument("--portraits", default="", help="Comma separated name filter.")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--readout", default="", help="Comma separated AUs to read back.")
    args = parser.parse_args()
    engine = WarpEngine(calibrate="auto")
    classifier = EmotionClassifier.load()
    embedder = IdentityEmbedder()
    wanted = [w for w in args.portraits.split(",") if w]
    paths = [p for p in sorted((args.media / "portraits").glob("*"))
             if not wanted or any(w in p.stem for w in wanted)]
    presets = [name for name in args.presets.split(",") if name]
    rises: dict[str, list[float]] = {name: [] for name in presets}
    distances: dict[str, list[float]] = {name: [] for name in presets}
    readout_aus = [int(au) for au in args.readout.split(",") if au]
    readings: dict[tuple[str, int], list[float]] = {
        (name, au): [] for name in presets for au in readout_aus}
    reader = BlendshapeReader(video_mode=False).__enter__() if readout_aus else None
    for path in paths:
        image = even_size(load_image(path, max_size=512))
        state = engine.prepare(image, detect_source_face(image))
        before = classifier.predict_image(image)
        source_embedding = embedder.embed(image)
        edits = engine.edit(state, [dict(load_preset(name).aus) for name in presets], "add")
        line = []
        source_face = reader.read(image) if reader is not None else None
        for name, edited in zip(presets, edits):
            emotion = _emotion(name)
            edited_face = reader.read(edited) if reader is not None else None
            for au in readout_aus if source_face is not None and edited_face is not None else ():
                if has_room(au, READOUT_RULES[au].score(source_face.scores)):
                    change = (CHANGE_RULES[au].signal(edited_face)
                              - CHANGE_RULES[au].signal(source_face))
                    readings[name, au].append(change_intensity(CHANGE_RULES[au], change))
                    line.append(f"AU{au} {readings[name, au][-1]:.2f}")
            after = classifier.predict_image(edited)
            if before is not None and after is not None:
                rises[name].append(after[emotion] - before[emotion])
                line.append(f"{name} {before[emotion]:.3f}->{after[emotion]:.3f}")
            embedding = embedder.embed(edited)
            if source_embedding is not None and embedding is not None:
                distances[name].append(identity_distance(source_embedding, embedding))
        if args.verbose:
            print(path.stem, " ".join(line), flush=True)
    print("preset      rose  mean rise  identity mean / worst")
    for name in presets:
        rise, distance = np.asarray(rises[name]), np.asarray(distances[name])
        print(f"{name:<11} {np.mean(rise > 0):4.0%}  {rise.mean():+9.3f}  "
              f"{distance.mean():.3f} / {distance.max():.3f}  ({len(rise)} faces)"
              + "".join(f"  AU{au} {np.mean(readings[name, au]):.2f} / "
                        f"{np.min(readings[name, au]):.2f}"
                        for au in readout_aus if readings[name, au]))
    if reader is not None:
        reader.__exit__(None, None, None)
    return 0


def _emotion(preset: str) -> str:
    """fer's class for a bundled preset, or for a YAML file named after one."""
    if preset in PRESET_EMOTIONS:
        return PRESET_EMOTIONS[preset]
    stem = Path(preset).stem
    return next(PRESET_EMOTIONS[name] for name in sorted(PRESET_EMOTIONS, key=len, reverse=True)
                if stem.startswith(name))


if __name__ == "__main__":
    sys.exit(main())
