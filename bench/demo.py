"""`make demo`: animate real portraits with the warp engine and write the results to --out.

Uses ../shared/media when it is there; otherwise scikit-image's astronaut speaking a sentence
synthesised by espeak-ng, so the demo runs on any machine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fgemotalk_cli.cli import main as fgemotalk

SENTENCE = "Hello! I am a portrait brought to life. Bob made a big blue pie for everyone."


def fallback_inputs(folder: Path) -> tuple[Path, Path]:
    """A portrait a package ships and speech synthesised here."""
    from PIL import Image
    from skimage import data

    portrait = folder / "astronaut.png"
    Image.fromarray(data.astronaut()).save(portrait)
    speech = folder / "speech.wav"
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is needed for the demo's speech: apt-get install espeak-ng")
    subprocess.run(["espeak-ng", "-w", str(speech), SENTENCE], check=True)
    return portrait, speech


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=Path("../shared/media"))
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fgemotalk_demo_"))
    jobs: list[list[str]] = []
    if (args.media / "MANIFEST.md").is_file():
        portraits, driving, audio = (args.media / d for d in ("portraits", "driving", "audio"))
        face = portraits / "liveportrait_s42.jpg"
        jobs = [
            ["speak", str(face), str(audio / "sadtalker_RD_Radio31_000.wav"), "--preset",
             "happy", "-o", str(out / "speak_happy.mp4")],
            ["reenact", str(portraits / "sadtalker_sad.png"), str(driving / "liveportrait_d5.mp4"),
             "--au", "12=3", "-o", str(out / "reenact_smile.mp4")],
            ["reenact", str(face), str(driving / "sadtalker_WDA_KatieHill_000.mp4"), "--compare",
             "-o", str(out / "reenact_compare.mp4")],
            ["edit-au", str(portraits / "sadtalker_art_20.png"), "--preset", "surprise",
             "-o", str(out / "edit_surprise.png")],
            ["edit-au", str(face), "--grid", "-o", str(out / "au_grid.png")],
        ]
    else:
        print(f"{args.media} not found: using scikit-image's astronaut and espeak-ng speech")
        face, speech = fallback_inputs(scratch)
        jobs = [
            ["speak", str(face), str(speech), "--preset", "happy", "-o",
             str(out / "speak_happy.mp4")],
            ["edit-au", str(face), "--grid", "-o", str(out / "au_grid.png")],
        ]
    for job in jobs:
        print("fgemotalk " + " ".join(job), flush=True)
        code = fgemotalk([*job, "--overwrite"])
        if code != 0:
            return code
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"demo outputs in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
