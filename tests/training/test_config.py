"""Training configs: the shipped YAML files load; mistakes are ConfigErrors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgemotalk_cli.errors import ConfigError
from fgemotalk_cli.training.config import config_from_dict, load_train_config
from tests.training.conftest import REPO_ROOT

BASE = {"stage": 1, "run_dir": "runs/x", "data": {"roots": ["data/x"]}}


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    config = load_train_config(path)
    if config.stage == 1:
        model = config.model_config()
        assert model.size in (64, 256, 512)
        assert config.optimizer.lr == 0.002 and config.optimizer.betas == (0.0, 0.99)
        weights = config.loss.weights
        assert (weights.appearance, weights.expression, weights.perceptual, weights.l1,
                weights.adversarial) == (100, 100, 10, 1, 1)
    else:
        assert config.init_checkpoint


def test_defaults_are_the_papers() -> None:
    config = config_from_dict(BASE)
    assert config.optimizer.lr == 0.002
    assert config.optimizer.betas == (0.0, 0.99)
    assert (config.optimizer.g_reg_every, config.optimizer.d_reg_every) == (4, 16)
    assert config.loss.backbones.appearance.fallback == "error"


@pytest.mark.parametrize("change, message", [
    ({"optimizer": {"lrr": 0.1}}, "unknown key"),
    ({"optimizer": {"betas": [0.9]}}, "betas"),
    ({"optimizer": {"lr": "fast"}}, "must be a number"),
    ({"schedule": {"batch_size": 6, "grad_accumulation": 4}}, "not divisible"),
    ({"schedule": {"steps": 0}}, "schedule.steps"),
    ({"stage": 4}, "stage must be 1, 2 or 3"),
    ({"stage": 2}, "init_checkpoint"),
    ({"loss": {"backbones": {"perceptual": {"fallback": "random"}}}}, "frozen_encoder"),
    ({"loss": {"weights": {"l1": -1}}}, "loss.weights.l1"),
    ({"data": {"roots": []}}, "data.roots"),
    ({"amp": "fp8"}, "amp"),
])
def test_mistakes_are_config_errors(change: dict, message: str) -> None:
    from fgemotalk_cli.training.config import merge

    with pytest.raises(ConfigError, match=message):
        config_from_dict(merge(BASE, change))


def test_yaml_scientific_notation_is_a_number(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("stage: 1\nrun_dir: r\ndata: {roots: [d]}\noptimizer: {lr: 2e-3}\n")
    assert load_train_config(path).optimizer.lr == 0.002


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "nope.yaml")
