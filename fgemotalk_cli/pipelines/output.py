"""One video output: reserved up front, encoded frame by frame with its audio, renamed at the end.

The target is checked before any work (an existing file stops the run unless ``overwrite``);
frames and audio go into one hidden temporary file beside it, in one pass, and that file is
renamed onto the target only when everything succeeded. Any exception, Ctrl-C included,
removes it. Frames are encoded on a background thread (x264 and the colour conversion release
the GIL), so the engine renders the next frames meanwhile; the audio (the driver's or the
speech) is encoded as AAC on a thread of its own, keeping pace with the frames written, so
nothing is left to do after the last frame but a few frames' worth of audio.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.media.atomic import atomic_output
from fgemotalk_cli.media.audio import AacTrack
from fgemotalk_cli.media.encode import VideoWriter
from fgemotalk_cli.media.progress import frame_progress
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.background import BackgroundWorker

#: Frames waiting for the encoder: enough to ride out a slow frame, bounded for memory.
ENCODER_QUEUE_FRAMES = 16


class EncodedOutput(AbstractContextManager["EncodedOutput"]):
    """The output video of one job: ``write`` frames, then ``finish``; see the module doc.

    ``audio_source`` is a file whose (first) audio track is muxed, aligned as
    :meth:`~fgemotalk_cli.media.audio.AacTrack.for_source` aligns it; a video without audio,
    or None, gives a silent output.
    """

    def __init__(self, target: Path, options: RunOptions, fps: Fraction,
                 audio_source: Path | None) -> None:
        self.target = target
        self.options = options
        self.fps = fps
        self.audio_source = audio_source
        self.frames_written = 0
        self._writer: VideoWriter | None = None
        self._encoder: BackgroundWorker[np.ndarray] | None = None
        self._reservation: AbstractContextManager[Path] | None = None
        self._final_temp: Path | None = None
        self._audio: AacTrack | None = None

    def __enter__(self) -> EncodedOutput:
        reservation = atomic_output(self.target, overwrite=self.options.overwrite)
        self._reservation = reservation
        self._final_temp = Path(reservation.__enter__())
        try:
            if self.audio_source is not None:
                # Probed now, so that an unreadable audio file stops the job before any frame.
                self._audio = AacTrack.for_source(self.audio_source, None, None)
        except BaseException as error:
            reservation.__exit__(type(error), error, error.__traceback__)
            raise
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
            if self._final_temp is None:
                raise RuntimeError("EncodedOutput.write() outside its with-block")
            # veryfast: x264's quality per bit barely changes at this CRF, and the encoder
            # must not be the bottleneck of a real-time engine.
            self._writer = VideoWriter(self._final_temp, fps=self.fps, crf=self.options.crf,
                                       preset="veryfast", audio=self._audio)
        self._writer.write(frame)

    def finish(self) -> bool:
        """Close the encoder and the file; returns whether the output has audio."""
        if self._encoder is not None:
            encoder, self._encoder = self._encoder, None
            encoder.close()
        if self._writer is None or self.frames_written == 0:
            raise InputError("nothing to write: no frames were produced")
        writer, self._writer = self._writer, None
        writer.close()
        return self._audio is not None

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
            if self._reservation is not None:
                self._reservation.__exit__(kind, error, trace)
        return None
