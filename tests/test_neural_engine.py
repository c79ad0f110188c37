"""The neural engine end to end on real media, with a tiny random checkpoint made here.

Like demucs' unit-test model, the network is small and untrained: these tests check the
plumbing (crop, batch, relative motion, AU codes, audio codes, paste-back, mux), not quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fgemotalk_cli import api
from fgemotalk_cli.engines.base import SpeechSample
from fgemotalk_cli.engines.neural import NeuralEngine, NeuralState
from fgemotalk_cli.errors import CheckpointError
from fgemotalk_cli.expression.aus import expression_control
from fgemotalk_cli.media.video import probe_video
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.common import load_source_face
from fgemotalk_cli.speech.visemes import MouthShape
from models.checkpoint import save_checkpoint
from models.config import ModelConfig
from models.errors import AUError
from models.errors import CheckpointError as ModelCheckpointError
from models.fgemotalk import FGEmoTalk


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig.tiny(with_audio=True), load_pretrained_audio=False)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, "stage1")
    return path


def _options(checkpoint: Path, **changes: object) -> RunOptions:
    return RunOptions(engine="neural", checkpoint=checkpoint, show_progress=False,
                      batch_size=4, **changes)  # type: ignore[arg-type]


@pytest.mark.media
def test_neural_reenact_encodes_source_once(tiny_checkpoint: Path, shared_media: Path,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"encode_source": 0, "motion_frames": 0}
    encode, motion = FGEmoTalk.encode_source, FGEmoTalk.motion

    def counting_encode(self: FGEmoTalk, image: torch.Tensor):  # type: ignore[no-untyped-def]
        calls["encode_source"] += 1
        return encode(self, image)

    def counting_motion(self: FGEmoTalk, driving: torch.Tensor):  # type: ignore[no-untyped-def]
        calls["motion_frames"] += driving.shape[0]
        return motion(self, driving)

    monkeypatch.setattr(FGEmoTalk, "encode_source", counting_encode)
    monkeypatch.setattr(FGEmoTalk, "motion", counting_motion)
    driver = shared_media / "driving" / "liveportrait_d1.mp4"
    result = api.reenact(shared_media / "portraits" / "sadtalker_sad.png", driver,
                         tmp_path / "n.mp4", control=expression_control(["12=3"]),
                         options=_options(tiny_checkpoint))
    info = probe_video(tmp_path / "n.mp4")
    assert result.engine == "neural" and result.frames == info.frame_count == 16
    assert info.has_audio and (info.width, info.height) == (256, 256)
    assert calls["encode_source"] == 1              # the source is encoded once per video
    assert calls["motion_frames"] == 16 + 1         # every driver frame plus the reference


@pytest.mark.media
def test_neural_speak_with_audio_codes(tiny_checkpoint: Path, shared_media: Path,
                                       tmp_path: Path) -> None:
    audio = shared_media / "audio" / "vexpress_tys_aud.mp3"
    result = api.speak(shared_media / "portraits" / "liveportrait_s42.jpg", audio,
                       tmp_path / "s.mp4", control=expression_control([], "happy"),
                       options=_options(tiny_checkpoint, paste_back=False))
    info = probe_video(tmp_path / "s.mp4")
    assert result.frames == info.frame_count == 101 and info.has_audio
    assert (info.width, info.height) == (64, 64)   # --no-paste-back keeps the model's crop


@pytest.mark.media
def test_neural_rejects_aus_outside_checkpoint(tiny_checkpoint: Path, shared_media: Path,
                                               tmp_path: Path) -> None:
    with pytest.raises(AUError, match="26"):
        api.edit_au(shared_media / "portraits" / "sadtalker_sad.png", tmp_path / "e.png",
                    control=expression_control(["26=3"]), options=_options(tiny_checkpoint))
    assert not (tmp_path / "e.png").exists()


def test_neural_missing_or_foreign_checkpoint(tmp_path: Path, shared_media: Path) -> None:
    source = shared_media / "portraits" / "sadtalker_sad.png"
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        api.edit_au(source, tmp_path / "e.png", control=expression_control(["12=3"]),
                    options=_options(tmp_path / "none.pt"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelCheckpointError):
        api.edit_au(source, tmp_path / "e.png", control=expression_control(["12=3"]),
                    options=_options(foreign))
    assert not (tmp_path / "e.png").exists()


def test_info_shows_what_a_checkpoint_holds(tiny_checkpoint: Path) -> None:
    import json

    from typer.testing import CliRunner

    from fgemotalk_cli.cli import app

    done = CliRunner().invoke(app, ["info", str(tiny_checkpoint), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["aus"] == [1, 2, 4, 5, 6, 9, 12]
    assert summary["stages"] == ["stage1"]
    bad = CliRunner().invoke(app, ["info", str(tiny_checkpoint.with_name("nope.pt"))])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_neural_edit_with_a_zero_au_vector_is_the_plain_rendering() -> None:
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig.tiny()).eval()
    engine = NeuralEngine(model, "cpu", paste_back=False)
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        source = model.encode_source(image)
        plain = engine._images(model.render(source, source.pose, source.expression))[0]
    state = NeuralState(frame=np.zeros((64, 64, 3), np.uint8), crop=None, source=source)
    zero, smile = engine.edit(state, [{}, {12: 5.0}], "add")
    assert np.array_equal(zero, plain)
    assert not np.array_equal(smile, plain)


@pytest.mark.media
def test_neural_speak_moves_the_head_and_blinks_only_when_asked(shared_media: Path) -> None:
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig.tiny(with_audio=True), load_pretrained_audio=False).eval()
    engine = NeuralEngine(model, "cpu", paste_back=False)
    face = load_source_face(shared_media / "portraits" / "sadtalker_sad.png", 0)
    state = engine.prepare(face.image, face.landmarks)
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    engine.attach_audio(state, wave, 16000, 25, 4)

    def sample(index: int, blink: float = 0.0,
               head: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> SpeechSample:
        return SpeechSample(mouth=MouthShape(), blink=blink, head_degrees=head, wave_index=index)

    still = engine.speak(state, [sample(0), sample(1)], [{}, {}])
    assert state.speech_motion is None  # --still: nothing measured, the source's pose as is
    assert engine.frames_per_call == 1  # on a CPU the network sees one frame at a time
    with torch.no_grad():
        plain = torch.cat([model.render(state.source, state.source.pose,
                                        state.audio_codes[index:index + 1]) for index in (0, 1)])
    assert all(np.array_equal(a, b) for a, b in zip(still, engine._images(plain)))

    turned, blinking = engine.speak(state, [sample(0, head=(5.0, 0.0, 0.0)),
                                            sample(1, blink=1.0)], [{}, {}])
    offsets = state.speech_motion
    assert offsets is not None and offsets.pose_per_degree.shape == (3, 10)
    assert torch.count_nonzero(offsets.pose_per_degree) > 0
    assert torch.count_nonzero(offsets.blink) > 0
    assert not np.array_equal(turned, still[0]) and not np.array_equal(blinking, still[1])
    again = engine.speak(state, [sample(0), sample(1)], [{}, {}])
    assert all(np.array_equal(a, b) for a, b in zip(again, still))


def test_cpu_chunks_render_what_one_batch_renders() -> None:
    """One frame per network call on a CPU (faster there) gives the whole batch's frames."""
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig.tiny(), load_pretrained_audio=False).eval()
    engine = NeuralEngine(model, "cpu", paste_back=False)
    size = model.config.size
    source = (np.random.default_rng(1).random((size, size, 3)) * 255).astype(np.uint8)
    with torch.inference_mode():
        state_source = model.encode_source(engine._batch([source]))
    state = NeuralState(frame=source, crop=None, source=state_source)  # type: ignore[arg-type]
    aus = [{model.au_list[0]: float(k)} for k in range(4)]
    one_at_a_time = engine.edit(state, aus, "add")
    engine.frames_per_call = None
    batched = engine.edit(state, aus, "add")
    assert len(one_at_a_time) == len(batched) == 4
    for single, whole in zip(one_at_a_time, batched):
        assert np.abs(single.astype(int) - whole.astype(int)).max() <= 1
    assert not np.array_equal(one_at_a_time[0], one_at_a_time[3])  # the AU changed something
