"""Do the presets read as their emotion? fer's probability of each preset's emotion, per portrait.

`python bench/preset_emotions.py [--presets happy,sad_emfacs] [--portraits s42,d19]`: every
shared portrait (long side <= 512 px) is edited with each preset (``edit-au``'s path: the
warp engine, calibrated on demand, ``add`` mode) and read by the emotion classifier that ships
with fer (:mod:`fgemotalk_cli.evaluation.emotion`) and by dlib's identity embedding. Prints per
preset the share of faces whose probability of the preset's emotion rose over the unedited
portrait, the mean rise, and the identity distance (mean / worst); per face with ``--verbose``.
Run it in two checkouts (``PYTHONPATH`` = each) to compare them.
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
    from fgemotalk_cli.evaluation.emotion import EmotionClassifier
    from fgemotalk_cli.evaluation.identity import IdentityEmbedder, identity_distance
    from fgemotalk_cli.expression.aus import load_preset
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--presets", default="happy,surprise,anger,disgust,fear,sad_emfacs")
    parser.add_argument("--portraits", default="", help="Comma separated name filter.")
    parser.add_argument("--verbose", action="store_true")
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
    for path in paths:
        image = even_size(load_image(path, max_size=512))
        state = engine.prepare(image, detect_source_face(image))
        before = classifier.predict_image(image)
        source_embedding = embedder.embed(image)
        edits = engine.edit(state, [dict(load_preset(name).aus) for name in presets], "add")
        line = []
        for name, edited in zip(presets, edits):
            emotion = PRESET_EMOTIONS[name]
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
              f"{distance.mean():.3f} / {distance.max():.3f}  ({len(rise)} faces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
