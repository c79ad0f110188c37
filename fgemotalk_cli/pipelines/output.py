"""One video output: reserved up front, encoded frame by frame, audio muxed, renamed at the end.

The target is checked before any work (an existing file stops the run unless ``overwrite``);
frames go to a hidden temporary file beside it; the audio is muxed into a second temporary file
that is renamed onto the target only when everything succeeded. Any exception, Ctrl-C included,
removes both temporaries. Frames are encoded on a background thread (x264 and the colour
conversion release the GIL), so the engine renders the next frame meanwhile.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.media.atomic import atomic_output
from fgemotalk_cli.media.audio import has_audio_stream
from fgemotalk_cli.media.encode import VideoWriter, mux_audio
from fgemotalk_cli.media.progress import frame_progress
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.background import BackgroundWorker

#: Frames waiting for the encoder: enough to ride out a slow frame, bounded for memory.
ENCODER_QUEUE_FRAMES = 4


class EncodedOutput(AbstractContextManager["EncodedOutput"]):
    def __init__(self, target: Path, options: RunOptions, fps: Fraction,
                 audio_source: Path | None) -> None:
        self.target = target
        self.options = options
        self.fps = fps
        self.audio_source = audio_source
        self.frames_written = 0
        self._writer = None
        self._encoder: BackgroundWorker[np.ndarray] | None = None
        self._reservation = None
        self._final_temp: Path | None = None
        self._video_only: Path | None = None

    def __enter__(self) -> EncodedOutput:
        self._reservation = atomic_output(self.target, overwrite=self.options.overwrite)
        self._final_temp = Path(self._reservation.__enter__())
        self._video_only = self._final_temp.with_name(f".{self._final_temp.stem}.video.mp4")
        return self

    def progress(self, description: str, total: int | None):
        return frame_progress(description, total, self.options.show_progress)

    def write(self, frame: np.ndarray) -> None:
        """Queue one RGB frame for encoding (the caller must not change it afterwards)."""
        if self._encoder is None:
            self._encoder = BackgroundWorker(self._encode, ENCODER_QUEUE_FRAMES)
        self._encoder.submit(frame)
        self.frames_written += 1

    def _encode(self, frame: np.ndarray) -> None:
        if self._writer is None:
            # veryfast: x264's quality per bit barely changes at this CRF, and the encoder
            # must not be the bottleneck of a real-time engine.
            self._writer = VideoWriter(self._video_only, fps=self.fps, crf=self.options.crf,
                                       preset="veryfast")
        self._writer.write(frame)

    def finish(self) -> bool:
        """Close the encoder and mux the audio; returns whether the output has audio."""
        if self._encoder is not None:
            encoder, self._encoder = self._encoder, None
            encoder.close()
        if self._writer is None or self.frames_written == 0:
            raise InputError("nothing to write: no frames were produced")
        self._writer.close()
        self._writer = None
        audio = self.audio_source
        if audio is not None and not has_audio_stream(audio):
            audio = None  # a silent driver (no audio track) gives a silent output
        muxed = mux_audio(self._video_only, audio, self._final_temp)
        return muxed.audio_duration_seconds is not None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> bool | None:
        try:
            if self._encoder is not None:
                encoder, self._encoder = self._encoder, None
                if kind is None:
                    encoder.close()
                else:
                    encoder.abandon()
            if self._writer is not None:
                # The writer's own exit abandons the file on an error instead of flushing it,
                # so its "no frames" complaint cannot hide the error already on its way out.
                self._writer.__exit__(kind, error, trace)
        finally:
            if self._video_only is not None:
                self._video_only.unlink(missing_ok=True)
            self._reservation.__exit__(kind, error, trace)  # type: ignore[union-attr]
        return None
