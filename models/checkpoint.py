"""The one place that reads and writes FGEmoTalk checkpoints.

File format "fgemotalk-checkpoint", version 1: a ``torch.save`` zip file of one dict that
loads with ``torch.load(weights_only=True)`` (tensors, numbers, strings, lists, dicts only):

    format            "fgemotalk-checkpoint"
    format_version    1
    config            ModelConfig.to_dict(); the audio backbone's Wav2Vec2 config is stored
                      resolved (no local path), so loading needs nothing but this file
    au_list           AUs the AU encoder takes, in input order, e.g. [1, 2, 4, 5, 6, 9, 12]
    stages            training stages the weights went through, e.g. ["stage1", "stage2"]
    parts             {part name: state_dict} for every sub-network of FGEmoTalk
    discriminator     state_dict of the stage-1 discriminator, or None
    extra             free dict for the trainer (optimisers, step, RNG state, data config)
    metadata          {"created": ISO time, "torch": version, "fgemotalk": version}

Writes are atomic (temporary file in the same folder, fsync, rename).
"""

from __future__ import annotations

import importlib.metadata
import os
import pickle
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from models.au_encoder import check_supported_aus
from models.config import ModelConfig
from models.errors import CheckpointError, ConfigError
from models.fgemotalk import FGEmoTalk

FORMAT_NAME = "fgemotalk-checkpoint"
FORMAT_VERSION = 1
STAGES = ("stage1", "stage2", "stage3")


@dataclass(frozen=True)
class CheckpointInfo:
    """What a loaded checkpoint held besides the model's weights."""

    path: Path
    format_version: int
    config: ModelConfig
    au_list: tuple[int, ...]
    stages: tuple[str, ...]
    discriminator: dict[str, torch.Tensor] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def check_aus(requested: Iterable[int], supported: Sequence[int]) -> None:
    """Raise AUError if a requested AU is not in the checkpoint's list (listing those it has)."""
    check_supported_aus(requested, supported)


def _resolved_config(model: FGEmoTalk) -> ModelConfig:
    """The model's config with the audio backbone stored as a config, not as a local path."""
    config = model.config
    if model.audio_encoder is not None and config.audio is not None:
        audio = replace(config.audio, wav2vec2_path=None,
                        wav2vec2_config=model.audio_encoder.backbone_config())
        config = config.with_audio(audio)
    return config


_PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)


def _check_plain(value: Any, where: str) -> None:
    """Refuse what ``torch.load(weights_only=True)`` would refuse, naming where it is."""
    if isinstance(value, _PLAIN_TYPES):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint {where}: key {key!r} must be a str or int")
            _check_plain(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    raise TypeError(
        f"checkpoint {where} is a {type(value).__module__}.{type(value).__name__}; only tensors, "
        "numbers, strings, None, lists and dicts can be saved (convert numpy arrays to tensors)"
    )


def save_checkpoint(
    path: str | Path, model: FGEmoTalk, stage: str, *,
    discriminator: torch.nn.Module | None = None, extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` (unwrapped from DDP / torch.compile) to ``path`` atomically.

    ``stage`` is the stage just trained ("stage1", "stage2" or "stage3"); it is appended to
    ``model.training_stages`` (once). Tensors are moved to CPU. Returns the path.
    """
    if stage not in STAGES:
        raise ConfigError(f"unknown training stage {stage!r}; expected one of {STAGES}")
    if not isinstance(model, FGEmoTalk):
        raise TypeError("save_checkpoint needs the FGEmoTalk module itself (unwrap DDP first)")
    stages = tuple(model.training_stages)
    if stage not in stages:
        stages += (stage,)

    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": _resolved_config(model).to_dict(),
        "au_list": list(model.au_list),
        "stages": list(stages),
        "parts": {
            name: {key: value.detach().cpu() for key, value in part.state_dict().items()}
            for name, part in model.named_children()
        },
        "discriminator": (
            None if discriminator is None
            else {key: value.detach().cpu() for key, value in discriminator.state_dict().items()}
        ),
        "extra": dict(extra or {}),
        "metadata": {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "torch": str(torch.__version__),
            "fgemotalk": _package_version(),
        },
    }
    for key in ("config", "extra", "metadata"):
        _check_plain(payload[key], key)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    model.training_stages = stages
    return path


def _read(path: str | Path, mmap: bool = False) -> tuple[Path, dict[str, Any]]:
    """Load and validate the outer structure; every failure is a CheckpointError."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; give the .pt file inside it")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (an interrupted copy or save?)")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    # torch.save writes a zip archive; PyTorch < 1.6 wrote a raw pickle (0x80 first).
    if magic[:1] == b"\x80":
        raise CheckpointError(
            f"{path} is not an fgemotalk checkpoint: it is in PyTorch's legacy (pre-1.6) format"
        )
    if magic != b"PK\x03\x04":
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint file (an image, video or text file?)"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        # torch's message ends in advice to retry with weights_only=False, which would run
        # whatever code the file carries: never pass it on. Its wording has changed across
        # versions ("Unsupported global", "unsupported GLOBAL"), hence the case-blind match.
        if "unsupported global" in str(error).lower():
            raise CheckpointError(
                f"{path} is not an fgemotalk checkpoint: it holds pickled Python objects besides "
                "tensors, which are never loaded (they could run code); it may be another "
                "project's training checkpoint"
            ) from None
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is corrupted (its pickled data is invalid)"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError):
        # torch's own text (several lines of zip-reader internals) helps nobody here.
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is truncated or corrupted (an interrupted "
            "download, copy or save?)"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        keys = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data)
        raise CheckpointError(
            f"{path} is not an fgemotalk checkpoint (no format '{FORMAT_NAME}'; found: {keys})"
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version}; this fgemotalk reads version "
            f"{FORMAT_VERSION} (upgrade fgemotalk or re-save the checkpoint)"
        )
    for key in ("config", "au_list", "stages", "parts"):
        if key not in data:
            raise CheckpointError(f"checkpoint {path} is incomplete: '{key}' is missing")
    _check_structure(path, data)
    return path, data


def _check_structure(path: Path, data: Mapping[str, Any]) -> None:
    """The entries' types, so that a damaged or hand-edited file fails here with its name."""
    expected = {"config": (dict, "a mapping"), "au_list": (list, "a list"),
                "stages": (list, "a list"), "parts": (dict, "a mapping of part name to weights")}
    for key, (kind, described) in expected.items():
        if not isinstance(data[key], kind):
            raise CheckpointError(f"checkpoint {path} is damaged: '{key}' must be {described}, "
                                  f"not {type(data[key]).__name__}")
    for name, state in data["parts"].items():
        if not isinstance(state, dict) or not all(
                isinstance(value, torch.Tensor) for value in state.values()):
            raise CheckpointError(f"checkpoint {path} is damaged: part '{name}' is not a "
                                  "mapping of tensor names to tensors")
    for key in ("extra", "metadata"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise CheckpointError(f"checkpoint {path} is damaged: '{key}' must be a mapping, "
                                  f"not {type(data[key]).__name__}")
    discriminator = data.get("discriminator")
    if discriminator is not None and not (isinstance(discriminator, dict) and all(
            isinstance(value, torch.Tensor) for value in discriminator.values())):
        raise CheckpointError(f"checkpoint {path} is damaged: 'discriminator' is not a mapping "
                              "of tensor names to tensors")


def _config_of(path: Path, data: Mapping[str, Any]) -> ModelConfig:
    try:
        config = ModelConfig.from_dict(data["config"])
    except ConfigError as error:
        raise CheckpointError(f"checkpoint {path} has an invalid model config: {error}") from None
    if list(config.au_list) != list(data["au_list"]):
        raise CheckpointError(
            f"checkpoint {path} is inconsistent: AU list {data['au_list']} differs from the "
            f"config's {list(config.au_list)}"
        )
    return config


def _with_neutral_code(path: Path, model: FGEmoTalk, parts: Mapping[str, Any],
                       stages: Sequence[str]) -> Mapping[str, Any]:
    """Checkpoints written before the AU encoder's ``neutral_code`` buffer [ours].

    Without stage 2 the AU encoder is untrained and a zero neutral code is its initial value;
    a stage-2 AU encoder from then predicts absolute codes, which "add" would double-count.
    """
    state = parts.get("au_encoder")
    if not isinstance(state, Mapping) or "neutral_code" in state:
        return parts
    if "stage2" in stages:
        raise CheckpointError(
            f"checkpoint {path} has an AU encoder trained to absolute codes (before AU offsets "
            "from the neutral face): train stage 2 again from its stage-1 weights"
        )
    neutral = torch.zeros_like(model.au_encoder.neutral_code)
    return {**parts, "au_encoder": {**state, "neutral_code": neutral}}


def _load_parts(path: Path, model: FGEmoTalk, parts: Mapping[str, Any]) -> None:
    expected = model.part_names()
    missing = [name for name in expected if name not in parts]
    unexpected = [name for name in parts if name not in expected]
    if missing or unexpected:
        details = []
        if missing:
            details.append(f"missing part(s): {', '.join(missing)}")
        if unexpected:
            details.append(f"unexpected part(s): {', '.join(unexpected)}")
        raise CheckpointError(f"checkpoint {path} does not match its config: {'; '.join(details)}")
    for name in expected:
        module = getattr(model, name)
        state = parts[name]
        own = module.state_dict()
        problems = [f"missing {key}" for key in own if key not in state]
        problems += [f"unexpected {key}" for key in state if key not in own]
        problems += [
            f"{key} has shape {tuple(state[key].shape)}, expected {tuple(value.shape)}"
            for key, value in own.items()
            if key in state and tuple(state[key].shape) != tuple(value.shape)
        ]
        if problems:
            shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
            raise CheckpointError(f"checkpoint {path}, part '{name}': {shown}")
        module.load_state_dict(state)


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu",
) -> tuple[FGEmoTalk, CheckpointInfo]:
    """Rebuild the model a checkpoint describes and load its weights, in eval mode on ``device``.

    Raises CheckpointError (missing, foreign, truncated, corrupted or inconsistent file).
    """
    path, data = _read(path)
    config = _config_of(path, data)
    model = FGEmoTalk(config, load_pretrained_audio=False)
    _load_parts(path, model, _with_neutral_code(path, model, data["parts"], data["stages"]))
    model.training_stages = tuple(data["stages"])
    model.to(device).eval()
    info = CheckpointInfo(
        path=path, format_version=data["format_version"], config=config,
        au_list=config.au_list, stages=tuple(data["stages"]),
        discriminator=data.get("discriminator"), extra=dict(data.get("extra") or {}),
        metadata=dict(data.get("metadata") or {}),
    )
    return model, info


def describe_checkpoint(path: str | Path) -> dict[str, Any]:
    """A JSON-able summary for ``fgemotalk info``: format, size, AUs, stages, parts, counts."""
    path, data = _read(path, mmap=True)
    config = _config_of(path, data)
    parts = {
        name: int(sum(t.numel() for t in state.values() if torch.is_floating_point(t)))
        for name, state in data["parts"].items()
    }
    discriminator = data.get("discriminator")
    metadata = data.get("metadata") or {}
    return {
        "path": str(path),
        "format": f"{FORMAT_NAME} v{data['format_version']}",
        "file_megabytes": round(path.stat().st_size / 2 ** 20, 1),
        "image_size": config.size,
        "channel_scale": config.channel_scale,
        "latent_dim": config.latent_dim,
        "k_pose": config.k_pose,
        "k_exp": config.k_exp,
        "aus": list(config.au_list),
        "stages": list(data["stages"]),
        "audio_encoder": config.audio is not None,
        "parts": parts,
        "parameters": sum(parts.values()),
        "discriminator_parameters": (
            None if discriminator is None
            else int(sum(t.numel() for t in discriminator.values()))
        ),
        "extra_keys": sorted(map(str, data.get("extra") or {})),
        "created": metadata.get("created"),
        "saved_with": {key: metadata[key] for key in ("torch", "fgemotalk") if key in metadata},
    }


def _package_version() -> str:
    """The installed fgemotalk distribution's version (models/ does not import the tool)."""
    try:
        return importlib.metadata.version("fgemotalk")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
