from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models import (
    Discriminator,
    FGEmoTalk,
    ModelConfig,
    check_aus,
    describe_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from models.errors import AUError, CheckpointError, ConfigError
from tests.models.conftest import images


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FGEmoTalk]:
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig.tiny(with_audio=True, au_list=(1, 4, 12))).eval()
    path = tmp_path_factory.mktemp("checkpoints") / "run" / "model.pt"
    discriminator = Discriminator(model.config)
    save_checkpoint(path, model, "stage1", discriminator=discriminator,
                    extra={"step": 10, "optimizer": {"lr": 0.002}})
    save_checkpoint(path, model, "stage2")
    return path, model


def _outputs(model: FGEmoTalk) -> list[torch.Tensor]:
    with torch.no_grad():
        source = model.encode_source(images(1, 64))
        motion = model.motion(images(2, 64, seed=1))
        expression = model.apply_au(motion.expression, torch.tensor([[1.0, 2.0, 4.0]]))
        return [model.render(source, motion.pose, expression),
                model.audio_codes(torch.randn(8000, generator=torch.Generator().manual_seed(0)),
                                  25, 12)]


def test_round_trip_is_bit_identical(saved: tuple[Path, FGEmoTalk]) -> None:
    path, model = saved
    loaded, info = load_checkpoint(path, device="cpu")
    assert info.stages == ("stage1", "stage2") and info.au_list == (1, 4, 12)
    assert info.config == loaded.config and info.extra == {}
    assert loaded.training_stages == ("stage1", "stage2") and not loaded.training
    for ours, theirs in zip(_outputs(model), _outputs(loaded)):
        assert torch.equal(ours, theirs)
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left nothing behind


def test_discriminator_and_extra_travel(tmp_path: Path) -> None:
    model = FGEmoTalk(ModelConfig.tiny())
    discriminator = Discriminator(model.config)
    path = save_checkpoint(tmp_path / "d.pt", model, "stage1", discriminator=discriminator,
                           extra={"step": 7, "rng": torch.get_rng_state()})
    _, info = load_checkpoint(path)
    assert info.extra["step"] == 7 and info.discriminator is not None
    Discriminator(info.config).load_state_dict(info.discriminator)
    with pytest.raises(TypeError, match=r"extra\.rng is a builtins\.object"):
        save_checkpoint(tmp_path / "bad.pt", model, "stage1", extra={"rng": object()})
    with pytest.raises(ConfigError, match="unknown training stage"):
        save_checkpoint(tmp_path / "bad.pt", model, "stage9")


def test_describe(saved: tuple[Path, FGEmoTalk]) -> None:
    path, model = saved
    summary = describe_checkpoint(path)
    json.dumps(summary)
    assert summary["format"] == "fgemotalk-checkpoint v1" and summary["aus"] == [1, 4, 12]
    assert summary["stages"] == ["stage1", "stage2"] and summary["audio_encoder"] is True
    assert summary["parts"]["generator"] == sum(p.numel() for p in model.generator.parameters())
    assert summary["discriminator_parameters"] is None  # the second save had none


def test_check_aus_lists_the_supported_ones() -> None:
    check_aus([12, 1], (1, 2, 4, 5, 6, 9, 12))
    with pytest.raises(AUError, match="AU25 not supported.*trained on AU1, AU12"):
        check_aus([25], (1, 12))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path, good: path.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]),
         "truncated or corrupted"),
        (lambda path, good: path.write_bytes(b""), "is empty"),
        (lambda path, good: path.write_text("P3 2 2 255\n"), "not a PyTorch"),
        (lambda path, good: torch.save({"state_dict": {"w": torch.zeros(1)}}, path),
         "not an fgemotalk checkpoint.*state_dict"),
        (lambda path, good: torch.save({"args": Path("x")}, path),
         "pickled Python objects besides"),
        (lambda path, good: torch.save(dict(torch.load(good, weights_only=True),
                                            format_version=99), path), "format version 99"),
    ],
    ids=["truncated", "empty", "text", "foreign", "pickled-objects", "future-version"],
)
def test_bad_files_raise_checkpoint_error(
    tmp_path: Path, saved: tuple[Path, FGEmoTalk], make, message: str,
) -> None:
    path = tmp_path / "bad.pt"
    make(path, saved[0])
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        describe_checkpoint(path)


def test_missing_file_and_mismatched_parts(tmp_path: Path, saved: tuple[Path, FGEmoTalk]) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nowhere.pt")
    data = torch.load(saved[0], weights_only=True)
    del data["parts"]["generator"]
    torch.save(data, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing part.*generator"):
        load_checkpoint(tmp_path / "missing.pt")
    data = torch.load(saved[0], weights_only=True)
    data["parts"]["dictionary"]["weight"] = torch.zeros(64, 31)
    torch.save(data, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match=r"'dictionary': weight has shape \(64, 31\)"):
        load_checkpoint(tmp_path / "shape.pt")


def test_checkpoints_from_before_the_neutral_code(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig.tiny())
    path = save_checkpoint(tmp_path / "old.pt", model, "stage1")
    data = torch.load(path, weights_only=True)
    del data["parts"]["au_encoder"]["neutral_code"]
    torch.save(data, path)
    loaded, _ = load_checkpoint(path)  # an untrained AU encoder: the neutral code starts at 0
    assert torch.count_nonzero(loaded.au_encoder.neutral_code) == 0
    data["stages"] = ["stage1", "stage2"]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="train stage 2 again"):
        load_checkpoint(path)
