"""Issue-level quality checks of the warp engine on real portraits.

- The happy preset raises fer's "happy" probability over the unedited portrait on most faces.
- Identity stays: the dlib face descriptor of an edited portrait is within 0.4 of the source's.
Both print their table so a run's log holds the figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fgemotalk_cli.aus import load_preset
from fgemotalk_cli.emotion import EmotionClassifier
from fgemotalk_cli.faces import detect_source_face
from fgemotalk_cli.identity import MAX_SOURCE_DISTANCE, IdentityEmbedder, identity_distance
from fgemotalk_cli.images import downscale_to_max_side, load_image
from fgemotalk_cli.pipelines.common import MAX_OUTPUT_SIDE, even_size
from fgemotalk_cli.warp_engine import WarpEngineAdapter


@pytest.fixture(scope="module")
def edited_portraits(portraits: list[Path]) -> list[tuple[str, object, object]]:
    engine = WarpEngineAdapter()
    happy = load_preset("happy").aus
    pairs = []
    for path in portraits:
        image = even_size(downscale_to_max_side(load_image(path), MAX_OUTPUT_SIDE))
        state = engine.prepare(image, detect_source_face(image))
        (edited,) = engine.edit(state, [happy], "add")
        pairs.append((path.stem, image, edited))
    return pairs


@pytest.mark.media
def test_happy_preset_raises_fer_happy(edited_portraits: list[tuple[str, object, object]]) -> None:
    classifier = EmotionClassifier.load()
    raised, rows = 0, []
    for name, before, after in edited_portraits:
        p_before = classifier.predict_image(before)
        p_after = classifier.predict_image(after)
        if p_before is None or p_after is None:
            rows.append(f"{name:40s} no dlib face")
            continue
        raised += p_after["happy"] > p_before["happy"]
        rows.append(f"{name:40s} happy {p_before['happy']:.3f} -> {p_after['happy']:.3f}")
    print("\n" + "\n".join(rows))
    measured = sum("->" in row for row in rows)
    assert measured >= 10
    assert raised >= 0.7 * measured, "\n".join(rows)


@pytest.mark.media
def test_identity_is_kept(edited_portraits: list[tuple[str, object, object]]) -> None:
    embedder = IdentityEmbedder()
    distances = {}
    for name, before, after in edited_portraits:
        source, output = embedder.embed(before), embedder.embed(after)
        if source is not None and output is not None:
            distances[name] = identity_distance(source, output)
    print("\n" + "\n".join(f"{n:40s} {d:.3f}" for n, d in distances.items()))
    assert len(distances) >= 10
    assert max(distances.values()) < MAX_SOURCE_DISTANCE, distances
