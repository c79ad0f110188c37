"""Facial Action Units: the catalogue, the `--au` language, presets and AU timelines.

Intensities follow the FACS scale as numbers: 0 is off, 1..5 are the FACS letters A..E
(trace, slight, marked, severe, maximum); floats are allowed. Everything a user can type goes
through :func:`parse_au_spec`, :func:`load_preset` or :func:`load_timeline`, which raise
:class:`~fgemotalk_cli.errors.AUError` with a message that says exactly what is wrong.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fgemotalk_cli.choices import AUMode
from fgemotalk_cli.errors import AUError
from fgemotalk_cli.safe_yaml import load_user_yaml

MAX_INTENSITY = 5.0

AU_MODES: tuple[str, ...] = ("add", "replace")


@dataclass(frozen=True)
class ActionUnit:
    number: int
    name: str
    region: str
    description: str
    in_paper: bool


#: Every AU fgemotalk can drive. ``in_paper`` marks the FG-EmoTalk set (DISFA minus the
#: mouth-shape AUs), which is what a neural checkpoint is trained on by default; the warp
#: engine drives all of them.
CATALOGUE: dict[int, ActionUnit] = {
    au.number: au
    for au in (
        ActionUnit(1, "Inner Brow Raiser", "brows", "inner ends of the brows pulled up", True),
        ActionUnit(2, "Outer Brow Raiser", "brows", "outer ends of the brows pulled up", True),
        ActionUnit(4, "Brow Lowerer", "brows", "brows lowered and drawn together", True),
        ActionUnit(5, "Upper Lid Raiser", "eyes", "upper lids raised, eyes widened", True),
        ActionUnit(6, "Cheek Raiser", "cheeks", "cheeks up, lower lids raised, crow's feet",
                   True),
        ActionUnit(7, "Lid Tightener", "eyes", "lids tightened, lower lid raised", False),
        ActionUnit(9, "Nose Wrinkler", "nose", "nose wrinkled, nostril wings and upper lip up",
                   True),
        ActionUnit(10, "Upper Lip Raiser", "mouth", "upper lip raised", False),
        ActionUnit(12, "Lip Corner Puller", "mouth", "lip corners pulled up and back", True),
        ActionUnit(15, "Lip Corner Depressor", "mouth", "lip corners pulled down", False),
        ActionUnit(17, "Chin Raiser", "chin", "chin boss and lower lip pushed up", False),
        ActionUnit(20, "Lip Stretcher", "mouth", "lip corners pulled sideways", False),
        ActionUnit(23, "Lip Tightener", "mouth", "lips tightened and narrowed", False),
        ActionUnit(25, "Lips Part", "mouth", "lips parted", False),
        ActionUnit(26, "Jaw Drop", "jaw", "jaw lowered, mouth opens", False),
        ActionUnit(43, "Eyes Closed", "eyes", "eyes closed (held)", False),
        ActionUnit(45, "Blink", "eyes", "eyes closed briefly", False),
    )
}

#: The paper's AU set (DISFA minus mouth-shape AUs).
PAPER_AUS: tuple[int, ...] = tuple(n for n, au in CATALOGUE.items() if au.in_paper)

_PAIR = re.compile(r"^\s*(?:AU)?\s*(\d+)\s*[=:]\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*$", re.I)


def supported_list(numbers: Iterable[int] | None = None) -> str:
    """A short human list such as ``1, 2, 4, 5`` for error messages."""
    return ", ".join(str(n) for n in sorted(numbers if numbers is not None else CATALOGUE))


def check_intensity(au: int, value: float, where: str = "") -> float:
    if au not in CATALOGUE:
        raise AUError(f"AU {au} is not supported{where}; supported AUs: {supported_list()}")
    if not math.isfinite(value) or value < 0 or value > MAX_INTENSITY:
        raise AUError(
            f"AU {au} intensity {value:g} is outside 0..{MAX_INTENSITY:g}{where} "
            "(0 off, 1..5 = FACS A..E)"
        )
    return float(value)


def parse_au_spec(specs: str | Iterable[str]) -> dict[int, float]:
    """Parse ``--au`` values: each ``AU=INTENSITY`` pair, comma separated or repeated.

    ``parse_au_spec(["12=4", "1=2.5,4=1"]) == {12: 4.0, 1: 2.5, 4: 1.0}``. An AU named twice
    is an error rather than a silent last-wins, since it is almost always a typo.
    """
    items = [specs] if isinstance(specs, str) else list(specs)
    result: dict[int, float] = {}
    for item in items:
        for pair in item.split(","):
            if not pair.strip():
                raise AUError(f"empty AU entry in '{item}'; expected AU=INTENSITY like 12=4")
            match = _PAIR.match(pair)
            if match is None:
                raise AUError(f"malformed AU '{pair.strip()}'; expected AU=INTENSITY like 12=4")
            au, value = int(match.group(1)), float(match.group(2))
            if au in result:
                raise AUError(f"AU {au} is given more than once")
            result[au] = check_intensity(au, value)
    return result


def _intensities_from_mapping(raw: object, where: str) -> dict[int, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise AUError(f"'aus' must be a mapping of AU number to intensity{where}")
    result: dict[int, float] = {}
    for key, value in raw.items():
        try:
            au = int(str(key).upper().removeprefix("AU"))
            number = float(value)
        except (TypeError, ValueError):
            raise AUError(f"bad AU entry '{key}: {value}'{where}") from None
        result[au] = check_intensity(au, number, where)
    return result


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    source: str
    aus: dict[int, float]
    path: Path | None = None


def presets_dir() -> Path:
    """The folder of bundled presets.

    An installed wheel carries them as the data package ``fgemotalk_cli.presets``; in a source
    checkout (and an editable install, whose import hook does not map data-only folders) they
    are the repository's top-level ``presets/``.
    """
    from importlib.resources import files

    # A source checkout first: an editable install of another checkout would otherwise map
    # ``fgemotalk_cli.presets`` to that checkout's folder, not to the code being run.
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "presets").is_dir():
        return checkout / "presets"
    try:
        folder = Path(str(files("fgemotalk_cli.presets")))
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / "presets"
    return folder


def _read_yaml(path: Path, what: str) -> object:
    return load_user_yaml(path, what, AUError)


#: The keys a preset file and an AU timeline may hold; anything else is a typo to point out.
PRESET_KEYS = ("name", "description", "source", "aus")
TIMELINE_KEYS = ("interpolation", "keyframes")
KEYFRAME_KEYS = ("time", "aus", "preset")


def _check_keys(data: Mapping[Any, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(key) for key in data if str(key) not in known)
    if unknown:
        raise AUError(f"unknown key(s) {', '.join(unknown)} {where} "
                      f"(known: {', '.join(known)})")


def read_preset_file(path: Path) -> Preset:
    data = _read_yaml(path, "preset file")
    where = f" in preset {path.name}"
    if not isinstance(data, Mapping) or "aus" not in data:
        raise AUError(f"preset {path} must be a YAML mapping with an 'aus' entry")
    _check_keys(data, PRESET_KEYS, f"in preset {path}")
    return Preset(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", "")),
        source=str(data.get("source", "")),
        aus=_intensities_from_mapping(data["aus"], where),
        path=path,
    )


def bundled_presets() -> dict[str, Preset]:
    presets = [read_preset_file(p) for p in sorted(presets_dir().glob("*.yaml"))]
    return {preset.name: preset for preset in presets}


def load_preset(name_or_path: str) -> Preset:
    """A bundled preset by name (``sad``) or a user's YAML file (``my.yaml``)."""
    candidate = Path(name_or_path).expanduser()
    looks_like_file = candidate.suffix.lower() in (".yaml", ".yml") or "/" in name_or_path
    if looks_like_file:
        if not candidate.exists():
            raise AUError(f"preset file not found: {candidate}")
        return read_preset_file(candidate)
    presets = bundled_presets()
    if name_or_path not in presets:
        raise AUError(
            f"unknown preset '{name_or_path}'; available: {', '.join(sorted(presets))} "
            "(or give a .yaml file)"
        )
    return presets[name_or_path]


def merge_intensities(*layers: Mapping[int, float] | None) -> dict[int, float]:
    """Later layers win per AU: ``merge(preset.aus, explicit)`` lets ``--au`` override a preset."""
    merged: dict[int, float] = {}
    for layer in layers:
        if layer:
            merged.update(layer)
    return merged


# --------------------------------------------------------------------------- timelines


@dataclass(frozen=True)
class Keyframe:
    time_seconds: float
    aus: dict[int, float]


@dataclass(frozen=True)
class AUTimeline:
    """Keyframes ``time -> AU vector``, interpolated per AU.

    An AU missing from a keyframe is 0 there, so an expression can build up and fade. Before
    the first and after the last keyframe the nearest keyframe holds. ``smooth`` uses a
    smoothstep ease (zero velocity at each keyframe) instead of straight lines.
    """

    keyframes: tuple[Keyframe, ...]
    interpolation: Literal["linear", "smooth"] = "linear"
    aus: tuple[int, ...] = field(default=())

    def at(self, time_seconds: float) -> dict[int, float]:
        times = [k.time_seconds for k in self.keyframes]
        index = bisect.bisect_right(times, time_seconds)
        if index == 0:
            return self._vector(self.keyframes[0])
        if index == len(times):
            return self._vector(self.keyframes[-1])
        before, after = self.keyframes[index - 1], self.keyframes[index]
        weight = (time_seconds - before.time_seconds) / (after.time_seconds - before.time_seconds)
        if self.interpolation == "smooth":
            weight = weight * weight * (3.0 - 2.0 * weight)
        return {
            au: (1 - weight) * before.aus.get(au, 0.0) + weight * after.aus.get(au, 0.0)
            for au in self.aus
        }

    def _vector(self, keyframe: Keyframe) -> dict[int, float]:
        return {au: keyframe.aus.get(au, 0.0) for au in self.aus}


def load_timeline(path: str | Path) -> AUTimeline:
    """Read an AU timeline YAML file.

    Format::

        interpolation: smooth          # or linear (default)
        keyframes:
          - {time: 0.0, aus: {12: 0}}
          - {time: 1.5, preset: happy}           # a preset's vector
          - {time: 3.0, aus: {12: 4, 1: 2}}
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise AUError(f"AU timeline file not found: {path}")
    data = _read_yaml(path, "AU timeline")
    if not isinstance(data, Mapping) or not isinstance(data.get("keyframes"), list):
        raise AUError(f"AU timeline {path} needs a 'keyframes' list")
    _check_keys(data, TIMELINE_KEYS, f"in AU timeline {path}")
    interpolation = str(data.get("interpolation", "linear"))
    if interpolation not in ("linear", "smooth"):
        raise AUError(f"AU timeline interpolation must be linear or smooth, not '{interpolation}'")
    keyframes: list[Keyframe] = []
    for number, entry in enumerate(data["keyframes"], start=1):
        where = f" in keyframe {number} of {path.name}"
        if not isinstance(entry, Mapping) or "time" not in entry:
            raise AUError(f"keyframe {number} of {path.name} needs a 'time'")
        _check_keys(entry, KEYFRAME_KEYS, f"in keyframe {number} of {path.name}")
        try:
            time_seconds = float(entry["time"])
        except (TypeError, ValueError):
            raise AUError(f"bad time '{entry['time']}'{where}") from None
        if not math.isfinite(time_seconds) or time_seconds < 0:
            raise AUError(f"time must be a non-negative number of seconds{where}")
        base = load_preset(str(entry["preset"])).aus if "preset" in entry else {}
        aus = merge_intensities(base, _intensities_from_mapping(entry.get("aus"), where))
        keyframes.append(Keyframe(time_seconds, aus))
    if not keyframes:
        raise AUError(f"AU timeline {path} has no keyframes")
    times = [k.time_seconds for k in keyframes]
    if any(b <= a for a, b in zip(times, times[1:])):
        raise AUError(f"keyframe times in {path.name} must strictly increase")
    all_aus = tuple(sorted({au for k in keyframes for au in k.aus}))
    return AUTimeline(tuple(keyframes), interpolation, all_aus)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- expression control


@dataclass(frozen=True)
class ExpressionControl:
    """What the user asked for: a constant AU vector, an optional timeline and the mode.

    At each time, timeline values win over the constant vector for the AUs the timeline names.
    """

    au_intensities: dict[int, float] = field(default_factory=dict)
    au_mode: AUMode = "add"
    timeline: AUTimeline | None = None

    def at(self, time_seconds: float) -> dict[int, float]:
        if self.timeline is None:
            return dict(self.au_intensities)
        return merge_intensities(self.au_intensities, self.timeline.at(time_seconds))

    @property
    def is_neutral(self) -> bool:
        return self.timeline is None and not any(self.au_intensities.values())

    @property
    def requested_aus(self) -> set[int]:
        """The AUs this control moves at some time (a constant 0 moves nothing)."""
        moved = {au for au, value in self.au_intensities.items() if value}
        return moved | set(self.timeline.aus if self.timeline is not None else ())




def expression_control(
    au_specs: Iterable[str] = (),
    preset: str | None = None,
    au_mode: str = "add",
    timeline: str | Path | None = None,
) -> ExpressionControl:
    """Build an :class:`ExpressionControl` from the CLI's raw strings."""
    if au_mode not in AU_MODES:
        raise AUError(f"--au-mode must be add or replace, not '{au_mode}'")
    preset_aus = load_preset(preset).aus if preset else {}
    explicit = parse_au_spec(list(au_specs)) if au_specs else {}
    return ExpressionControl(
        au_intensities=merge_intensities(preset_aus, explicit),
        au_mode=au_mode,  # type: ignore[arg-type]
        timeline=load_timeline(timeline) if timeline else None,
    )
