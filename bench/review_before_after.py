"""Render the same edits with the code on PYTHONPATH into a folder, for a before/after sheet.

    PYTHONPATH=/path/to/old/checkout python bench/review_before_after.py --out /tmp/rv/before
    python bench/review_before_after.py --out /tmp/rv/after
    python bench/review_before_after.py --sheet /tmp/rv/before /tmp/rv/after -o sheet.png

Six portraits x {AU26=4, AU25+26, surprise, happy, AU4=5, AU43=5}, plus two reenacted frames
(mouth open, mouth closed) of a toothy source driven by a smiling clip. Only the public library
API is used, so any checkout that has ``api.edit_au`` and ``api.reenact`` can render it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

PORTRAITS = ("liveportrait_s42.jpg", "sadtalker_sad.png", "vexpress_vasa1_3_ref.jpg",
             "liveportrait_d9.jpg", "liveportrait_s9.jpg", "face_recognition_obama.jpg")
EDITS = (("AU26=4", ["26=4"], None), ("AU25+26", ["25=4,26=3"], None),
         ("surprise", [], "surprise"), ("happy", [], "happy"), ("AU4=5", ["4=5"], None),
         ("AU43=5", ["43=5"], None))
TOOTHY_SOURCE = "face_recognition_obama.jpg"
DRIVER = "liveportrait_d0.mp4"  # wide toothy smiles
CELL = 256


def render(media: Path, out: Path) -> None:
    import av
    import cv2
    import numpy as np

    from fgemotalk_cli import api
    from fgemotalk_cli.options import RunOptions

    try:
        from fgemotalk_cli.expression.aus import expression_control
    except ImportError:  # the layout before the restructure
        from fgemotalk_cli.aus import expression_control  # type: ignore[no-redef]
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(engine="warp", show_progress=False, overwrite=True)
    for portrait in PORTRAITS:
        for label, aus, preset in EDITS:
            api.edit_au(media / "portraits" / portrait, out / f"{Path(portrait).stem}_{label}.png",
                        control=expression_control(aus, preset), options=options)
    with tempfile.TemporaryDirectory() as work:
        video = Path(work) / "reenact.mp4"
        api.reenact(media / "portraits" / TOOTHY_SOURCE, media / "driving" / DRIVER, video,
                    options=options)
        with av.open(str(video)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # Open and closed: the frames whose mouth region differs most / least from frame 0.
    height, width = frames[0].shape[:2]
    box = (slice(height // 2, 3 * height // 4), slice(width // 3, 2 * width // 3))
    change = [float(np.abs(f[box].astype(int) - frames[0][box].astype(int)).mean())
              for f in frames]
    cv2.imwrite(str(out / "reenact_open.png"), frames[int(np.argmax(change))][..., ::-1])
    cv2.imwrite(str(out / "reenact_closed.png"), frames[len(frames) - 1][..., ::-1])


def sheet(before: Path, after: Path, output: Path) -> None:
    import cv2
    import numpy as np

    names = [f"{Path(p).stem}_{label}" for p in PORTRAITS for label, _, _ in EDITS]
    names += ["reenact_open", "reenact_closed"]
    rows = []
    for name in names:
        cells = []
        for folder in (before, after):
            image = cv2.imread(str(folder / f"{name}.png"))
            scale = CELL / image.shape[0]
            cells.append(cv2.resize(image, (round(image.shape[1] * scale), CELL),
                                    interpolation=cv2.INTER_AREA))
        pair = np.concatenate(cells, axis=1)
        label = np.full((CELL, 180, 3), 255, np.uint8)
        cv2.putText(label, name[-22:], (4, CELL // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                    (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(label, "before | after", (4, CELL // 2 + 20), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (90, 90, 90), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label, pair], axis=1))
    widest = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, widest - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    # Two columns of rows keep the sheet viewable.
    half = (len(rows) + 1) // 2
    blank = np.full_like(rows[0], 255)
    left, right = rows[:half], rows[half:] + [blank] * (half - len(rows[half:]))
    cv2.imwrite(str(output), np.concatenate([np.concatenate(left), np.concatenate(right)], 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[1].parent
                        / "shared" / "media")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sheet", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("-o", "--output", type=Path, default=Path("before_after.png"))
    args = parser.parse_args()
    if args.sheet:
        sheet(*args.sheet, args.output)
    else:
        render(args.media, args.out)


if __name__ == "__main__":
    main()
