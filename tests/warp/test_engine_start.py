"""A job's start: the AU read-out model loads on a thread while the source is prepared."""

from __future__ import annotations

import threading

import pytest

from fgemotalk_cli.engines.warp import engine as engine_module
from fgemotalk_cli.engines.warp.au_geometry import GENERAL_RESPONSE
from fgemotalk_cli.engines.warp.engine import WarpEngine


@pytest.fixture
def readers_made(monkeypatch) -> list[str]:
    """The threads on which read-out models were made."""
    made: list[str] = []
    real = engine_module.BlendshapeReader

    def counting(*arguments, **options):
        made.append(threading.current_thread().name)
        return real(*arguments, **options)

    monkeypatch.setattr(engine_module, "BlendshapeReader", counting)
    return made


@pytest.fixture
def layers_built(monkeypatch) -> list[str]:
    """The threads on which source layers (segmentation, plate) were built."""
    from fgemotalk_cli.engines.warp import render as render_module

    built: list[str] = []
    real = render_module.build_layers

    def recording(*arguments):
        built.append(threading.current_thread().name)
        return real(*arguments)

    monkeypatch.setattr(render_module, "build_layers", recording)
    return built


def test_the_readout_loaded_aside_is_the_one_the_calibration_uses(warp_cases,
                                                                  readers_made) -> None:
    case = warp_cases[0]
    warp = WarpEngine(calibrate="auto")
    warp.load_readout_aside({12})
    state = warp.prepare(case.image, case.landmarks)
    warp.calibrate_for(state, {12})
    warp.calibrate_for(state, {4})  # a later AU: the same model
    assert readers_made == ["fgemotalk-readout"]
    assert state.source.geometry.response[12] != GENERAL_RESPONSE[12]  # solved on this face


def test_nothing_loads_aside_when_nothing_will_calibrate(readers_made) -> None:
    WarpEngine(calibrate="off").load_readout_aside({12})
    WarpEngine(calibrate="auto").load_readout_aside({6})  # AU 6 keeps the general table
    WarpEngine(calibrate="auto").load_readout_aside(set())
    assert readers_made == []


def test_head_motion_layers_build_aside_while_the_aus_calibrate(warp_cases, layers_built) -> None:
    """A reenact's first frames need the source's layers (a segmentation, the background
    plate) and its AU calibration: the layers build on a thread meanwhile, once, and the
    calibrated source (a new one, with the face's own AU tables) carries them."""
    from fgemotalk_cli.engines.base import DriverSample
    case = warp_cases[0]
    warp = WarpEngine(calibrate="auto")
    with warp.render_workers(2):
        state = warp.prepare(case.image, case.landmarks)
        sample = DriverSample(case.image, case.landmarks, 0.0)
        warp.set_reference(state, sample)
        before = state.source
        frames = warp.reenact_soon(state, [sample], [{12: 3.0}], "add")
        assert frames[0].result().shape == case.image.shape
    assert state.source is not before  # calibrated: a new source
    assert state.source.geometry.response[12] != GENERAL_RESPONSE[12]
    assert "layers" in vars(state.source)
    assert layers_built == ["fgemotalk-layers"]


def test_speech_builds_its_head_motion_layers_aside_once(warp_cases, layers_built) -> None:
    """``speak`` starts the layers before it calibrates and waits for its speech analysis;
    the first frames that move the head use them (built once, on their thread)."""
    from fgemotalk_cli.engines.base import SpeechSample
    case = warp_cases[0]
    warp = WarpEngine(calibrate="auto")
    with warp.render_workers(2):
        state = warp.prepare(case.image, case.landmarks)
        warp.build_layers_aside(state)
        warp.calibrate_for(state, {12})
        samples = [SpeechSample(mouth=None, blink=0.0, head_degrees=(4.0 * k, 0.0, 0.0),
                                wave_index=k) for k in range(2)]
        frames = warp.speak_soon(state, samples, [{12: 2.0}] * 2)
        assert all(frame.result().shape == case.image.shape for frame in frames)
    assert "layers" in vars(state.source) and state.layers_building is None
    assert layers_built == ["fgemotalk-layers"]
