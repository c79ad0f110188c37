"""Trace one `reenact`: which of our modules it passes through, and how often each input is
opened (the architecture issue's one-pass check).

    python bench/trace_reenact.py --media ../shared/media

Counts ``av.open`` / ``soundfile`` opens per path, the project modules whose functions run, and
the distinct caller -> callee module pairs ("hops") on the way. Run it on two checkouts (with
PYTHONPATH pointing at each) to compare.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import threading
from pathlib import Path

PROJECT_PREFIXES = ("fgemotalk_cli", "models")


def _module_of(frame) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if name.startswith(PROJECT_PREFIXES) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path("../shared/media"))
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()

    import av

    opens: collections.Counter[str] = collections.Counter()
    real_open = av.open

    def counting_open(file, *rest, **options):
        opens[Path(str(file)).name] += 1
        return real_open(file, *rest, **options)

    av.open = counting_open
    modules: set[str] = set()
    hops: set[tuple[str, str]] = set()

    def profile(frame, event, _arg):
        if event != "call":
            return
        callee = _module_of(frame)
        if callee is None:
            return
        modules.add(callee)
        caller_frame = frame.f_back
        while caller_frame is not None and _module_of(caller_frame) is None:
            caller_frame = caller_frame.f_back
        caller = _module_of(caller_frame) if caller_frame is not None else None
        if caller is not None and caller != callee:
            hops.add((caller, callee))

    from fgemotalk_cli import api
    from fgemotalk_cli.options import RunOptions

    with tempfile.TemporaryDirectory() as work:
        driver = Path(work) / "driver.mp4"
        _cut(real_open, args.media / "driving" / "sadtalker_WDA_KatieHill_000.mp4", driver,
             args.frames)
        source = args.media / "portraits" / "liveportrait_s42.jpg"
        sys.setprofile(profile)
        threading.setprofile(profile)
        try:
            api.reenact(source, driver, Path(work) / "out.mp4",
                        options=RunOptions(engine="warp", show_progress=False))
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
    print(f"project modules run: {len(modules)}")
    print(f"distinct module hops: {len(hops)}")
    for name, count in sorted(opens.items()):
        print(f"opened {name}: {count}x")


def _cut(open_video, source: Path, target: Path, frames: int) -> None:
    """The first ``frames`` frames of ``source`` with its audio, as a short driver."""
    with open_video(str(source)) as inp, open_video(str(target), "w") as out:
        video_in = inp.streams.video[0]
        audio_in = inp.streams.audio[0]
        video_out = out.add_stream("libx264", rate=video_in.average_rate)
        video_out.width, video_out.height = video_in.width, video_in.height
        video_out.pix_fmt = "yuv420p"
        audio_out = out.add_stream("aac", rate=audio_in.rate)
        end = frames / float(video_in.average_rate)
        written = 0
        for frame in inp.decode(video_in):
            if written >= frames:
                break
            for packet in video_out.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
            written += 1
        for packet in video_out.encode():
            out.mux(packet)
        inp.seek(0)
        for frame in inp.decode(audio_in):
            if frame.time is not None and frame.time > end:
                break
            frame.pts = None
            for packet in audio_out.encode(frame):
                out.mux(packet)
        for packet in audio_out.encode():
            out.mux(packet)


if __name__ == "__main__":
    main()
