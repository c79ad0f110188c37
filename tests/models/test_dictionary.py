from __future__ import annotations

import pytest
import torch

from models import ModelConfig
from models.dictionary import MotionDictionary


def test_directions_are_orthonormal() -> None:
    dictionary = MotionDictionary(ModelConfig())
    q = dictionary.directions()
    assert q.shape == (512, 30)
    assert torch.allclose(q.t() @ q, torch.eye(30), atol=1e-5)


def test_expression_and_pose_subspaces_are_orthogonal() -> None:
    config = ModelConfig.tiny()
    dictionary = MotionDictionary(config)
    expression = dictionary(torch.randn(4, config.k_exp), None)
    pose = dictionary(None, torch.randn(4, config.k_pose))
    assert torch.allclose((expression * pose).sum(1), torch.zeros(4), atol=1e-4)


def test_dictionary_is_linear_and_parts_add_up() -> None:
    config = ModelConfig.tiny()
    dictionary = MotionDictionary(config)
    m_exp, m_pose = torch.randn(2, config.k_exp), torch.randn(2, config.k_pose)
    both = dictionary(m_exp, m_pose)
    assert torch.allclose(both, dictionary(m_exp) + dictionary(pose=m_pose), atol=1e-5)
    assert torch.allclose(dictionary(2 * m_exp, 2 * m_pose), 2 * both, atol=1e-5)
    with pytest.raises(ValueError):
        dictionary()
