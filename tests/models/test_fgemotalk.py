from __future__ import annotations

import pytest
import torch

from models import FGEmoTalk, ModelConfig
from models.errors import CheckpointError
from tests.models.conftest import images


def test_shapes_at_256(model_256: FGEmoTalk) -> None:
    with torch.no_grad():
        source = model_256.encode_source(images(1, 256))
        motion = model_256.motion(images(2, 256, seed=1))
        rendered = model_256.render(source, motion.pose, motion.expression)
        au = model_256.au_code(torch.tensor([[0, 0, 0, 0, 0, 0, 4.0]]))
    assert source.appearance.shape == (1, 512) and len(source.features) == 6
    assert source.pose.shape == (1, 10) and source.expression.shape == (1, 20)
    assert motion.pose.shape == (2, 10) and motion.expression.shape == (2, 20)
    assert rendered.shape == (2, 3, 256, 256)  # source of batch 1 broadcast over 2 frames
    assert au.shape == (1, 20)


def _trainable_video_parameters(model: FGEmoTalk) -> dict[str, torch.nn.Parameter]:
    parts = ("encoder", "appearance_extractor", "pose_extractor", "expression_extractor",
             "dictionary", "generator")
    return {name: p for name, p in model.named_parameters() if name.split(".")[0] in parts}


@pytest.mark.parametrize("size", [64, pytest.param(256, marks=pytest.mark.slow)])
def test_gradients_reach_every_video_parameter_through_the_five_images(size: int) -> None:
    torch.manual_seed(0)
    config = ModelConfig.tiny() if size == 64 else ModelConfig(size=size)
    model = FGEmoTalk(config)
    trainable = model.set_trainable("stage1")
    assert len(trainable) == len(_trainable_video_parameters(model))
    generated = model(images(1, size), images(1, size, seed=1))
    assert all(image.shape == (1, 3, size, size) for image in generated.all())
    sum(image.square().mean() for image in generated.all()).backward()
    starved = [name for name, p in _trainable_video_parameters(model).items()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert starved == []
    assert all(p.grad is None for p in model.au_encoder.parameters())


def test_training_images_follow_equation_5(tiny_model: FGEmoTalk) -> None:
    tiny_model.eval()
    source, driving = images(2, 64), images(2, 64, seed=1)
    with torch.no_grad():
        generated = tiny_model.generate_training_images(source, driving)
        state = tiny_model.encode_source(source)
        motion = tiny_model.motion(driving)
        expected = {
            "driven": tiny_model.render(state, motion.pose, motion.expression),
            "appearance_only": tiny_model.render(state),
            "expression_only": tiny_model.render(state, expression=motion.expression),
            "pose_only": tiny_model.render(state, pose=motion.pose),
            "reconstruction": tiny_model.render(state, state.pose, state.expression),
        }
    for name, image in expected.items():
        assert torch.allclose(getattr(generated, name), image, atol=1e-3, rtol=1e-3), name


def test_relative_motion_reproduces_the_source_at_the_reference(tiny_model: FGEmoTalk) -> None:
    with torch.no_grad():
        source = tiny_model.encode_source(images(1, 64))
        frames = tiny_model.motion(images(3, 64, seed=1))
        reference = tiny_model.motion(images(3, 64, seed=1)[:1])
    relative = tiny_model.relative_motion(frames, reference, source)
    assert torch.allclose(relative.pose[0], source.pose[0], atol=1e-5)
    assert torch.allclose(relative.expression[0], source.expression[0], atol=1e-5)
    assert relative.pose.shape == (3, 10)


def test_au_modes(tiny_model: FGEmoTalk) -> None:
    expression = torch.randn(2, 20)
    intensities = torch.tensor([[0, 0, 0, 0, 0, 0, 4.0]])
    with torch.no_grad():
        tiny_model.au_encoder.neutral_code.copy_(torch.randn(20))
        code = tiny_model.au_code(intensities)
        added = tiny_model.apply_au(expression, intensities, "add")
        replaced = tiny_model.apply_au(expression, intensities, "replace")
    assert torch.allclose(added, expression + code)
    assert torch.allclose(replaced, (tiny_model.au_encoder.neutral_code + code).expand(2, -1))
    with pytest.raises(ValueError, match="AU mode"):
        tiny_model.apply_au(expression, intensities, "delta")  # type: ignore[arg-type]


def test_zero_au_vector_in_add_mode_leaves_the_image_bit_identical(
        tiny_model: FGEmoTalk) -> None:
    with torch.no_grad():
        source = tiny_model.encode_source(images(1, 64))
        driven = tiny_model.motion(images(2, 64, seed=3))
        plain = tiny_model.render(source, driven.pose, driven.expression)
        zero = tiny_model.apply_au(driven.expression, torch.zeros(2, 7), "add")
        edited = tiny_model.render(source, driven.pose, zero)
        # One row edited, one not: the unedited row still matches bit for bit.
        mixed = tiny_model.apply_au(driven.expression,
                                    torch.tensor([[0.0] * 7, [0, 0, 0, 0, 0, 0, 3.0]]), "add")
    assert torch.equal(edited, plain)
    assert torch.equal(mixed[0], driven.expression[0])
    assert not torch.equal(mixed[1], driven.expression[1])


def test_audio_needs_an_audio_encoder(tiny_model: FGEmoTalk) -> None:
    with pytest.raises(CheckpointError, match="no audio encoder"):
        tiny_model.audio_codes(torch.zeros(16000), 25, 25)
