"""Neural engine speed and memory at 256 px on this CPU (random weights: speed does not care).

Baseline, LIA's reference demo loop: every frame runs the whole network on (source, driving)
at batch 1 under ``torch.no_grad`` - the source is encoded again for every frame.
Ours: the source encoded once, ``torch.inference_mode``, driver frames in batches. The two
gains are reported apart: caching the source (LIA's loop with the source encoded once, still
batch 1) and then batching (the same with batches of 8). On a CPU batching loses (about 0.75x:
activations of 8 frames at 256 px no longer fit the caches), so the engine feeds the network one
frame at a time there (``NeuralEngine.frames_per_call``) and batches only on a GPU;
``neural_engine_cpu_speedup_vs_lia_loop`` is the engine's CPU choice against LIA's loop.
Every loop is warmed up first, and rounds interleave the three loops so that a machine
slowing down moves all of them.
``torch.compile`` is measured only on request (``compile_check=True``): on this CPU its
compile time must be won back within a minute of frames to pay, and the check says whether.
Memory: peak RSS of our loop over a 60 s and a 10 s stream of frames (each in a fresh process).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

FRAMES = 16  # two batches: ~1 s a frame on this CPU, so a round stays near a minute
BATCH = 8


def _model():
    import torch

    from models.config import ModelConfig
    from models.fgemotalk import FGEmoTalk

    torch.manual_seed(0)
    return FGEmoTalk(ModelConfig(size=256), load_pretrained_audio=False).eval()


def lia_reference_loop(model, source, driving_frames) -> float:
    import torch

    started = time.perf_counter()
    with torch.no_grad():
        for frame in driving_frames:
            state = model.encode_source(source)          # LIA recomputes the source per frame
            motion = model.motion(frame)
            model.render(state, motion.pose, motion.expression)
    return time.perf_counter() - started


def cached_loop(model, source, driving_frames) -> float:
    """LIA's loop with only the source caching: encoded once, frames still one at a time."""
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        state = model.encode_source(source)
        reference = model.motion(driving_frames[0])
        for frame in driving_frames:
            motion = model.relative_motion(model.motion(frame), reference, state)
            model.render(state, motion.pose, motion.expression)
    return time.perf_counter() - started


def our_loop(model, source, driving_frames, batch: int) -> float:
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        state = model.encode_source(source)
        reference = model.motion(driving_frames[0])
        for start in range(0, len(driving_frames), batch):
            driving = torch.cat(driving_frames[start:start + batch])
            motion = model.relative_motion(model.motion(driving), reference, state)
            model.render(state, motion.pose, motion.expression)
    return time.perf_counter() - started


def memory_child(frames: int) -> None:
    """Stream `frames` random driver frames through our loop; print peak RSS in KiB."""
    import torch

    model = _model()
    source = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.inference_mode():
        state = model.encode_source(source)
        reference = model.motion(source)
        for _ in range(0, frames, BATCH):
            driving = torch.rand(BATCH, 3, 256, 256) * 2 - 1   # made per batch, like decoding
            motion = model.relative_motion(model.motion(driving), reference, state)
            model.render(state, motion.pose, motion.expression).numpy().copy()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _compile_payoff(model, source, driving, eager_seconds_per_frame: float) -> dict[str, float]:
    """Compile the generator, time the compile and the compiled loop: it pays if the time
    saved per frame wins back the compile within a minute of frames."""
    import torch

    started = time.perf_counter()
    model.render = torch.compile(model.render)
    our_loop(model, source, driving[:BATCH], BATCH)  # triggers the compile
    compile_seconds = time.perf_counter() - started
    compiled = our_loop(model, source, driving, BATCH) / len(driving)
    saved = eager_seconds_per_frame - compiled
    frames_in_a_minute = 60.0 / max(compiled, 1e-9)
    return {
        "neural_compile_seconds": compile_seconds,
        "neural_compiled_ms_per_frame": 1000 * compiled,
        "neural_compile_pays_within_a_minute": float(saved * frames_in_a_minute > compile_seconds),
    }


def bench_neural(memory_seconds: tuple[int, int] = (10, 60), fps: int = 2, rounds: int = 3,
                 compile_check: bool = False) -> dict[str, float]:
    """Speed against LIA's loop, and peak memory of a long against a short stream.

    The memory streams run at ``fps`` = 2 (20 and 120 frames of 256 px through the full-size
    network): what is measured is whether memory grows with the number of frames streamed,
    and a CPU cannot push 1,750 frames through a 45 M-parameter generator in bench time.
    """
    import torch

    torch.set_num_threads(2)
    model = _model()
    source = torch.rand(1, 3, 256, 256) * 2 - 1
    driving = [torch.rand(1, 3, 256, 256) * 2 - 1 for _ in range(FRAMES)]
    loops = {
        "lia": lambda: lia_reference_loop(model, source, driving),
        "cached": lambda: cached_loop(model, source, driving),
        "ours": lambda: our_loop(model, source, driving, BATCH),
    }
    for loop in loops.values():  # warm-up: allocator, kernels, first-call paths
        loop()
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            seconds[name].append(loop())
    lia, cached, ours = (statistics.median(seconds[name]) for name in ("lia", "cached", "ours"))
    results = {
        "neural_lia_loop_ms_per_frame": 1000 * lia / FRAMES,
        "neural_cached_ms_per_frame": 1000 * cached / FRAMES,
        "neural_ours_ms_per_frame": 1000 * ours / FRAMES,
        "neural_gain_source_caching": lia / cached,
        "neural_gain_batching": cached / ours,
        "neural_speedup_vs_lia_loop": lia / ours,
        "neural_engine_cpu_speedup_vs_lia_loop": lia / cached,
    }
    if compile_check:
        results.update(_compile_payoff(model, source, driving, ours / FRAMES))
    peaks = {}
    for seconds in memory_seconds:
        done = subprocess.run(
            [sys.executable, "-c",
             f"import sys; sys.path.insert(0, '.'); from bench.neural import memory_child; "
             f"memory_child({seconds * fps})"],
            capture_output=True, text=True, check=True)
        peaks[seconds] = int(done.stdout.strip().splitlines()[-1])
    short, long = memory_seconds
    results[f"neural_peak_rss_{short}s_mib"] = peaks[short] / 1024
    results[f"neural_peak_rss_{long}s_mib"] = peaks[long] / 1024
    results[f"neural_peak_rss_{long}s_vs_{short}s"] = peaks[long] / peaks[short]
    return results
