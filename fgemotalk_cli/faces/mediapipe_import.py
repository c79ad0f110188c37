"""MediaPipe imported without the parts face work never uses.

``import mediapipe`` runs every solution and task family at once, whichever one is wanted.
Face tracking, person segmentation and the blendshape read-out use three of them; the others
cost every job's start-up (measured with ``python -X importtime``, 2-core VM): the drawing
helpers pull in matplotlib (~0.4 s), the audio tasks load ``sounddevice``, which probes for
PortAudio (~40 ms), and the hand, pose, holistic and objectron solutions bring ``urllib``,
``ssl`` and ``attrs`` (~50 ms together). :func:`import_mediapipe` registers stand-ins for those
modules before the package first runs; a stand-in runs its real module the first time one of
its attributes is used, so any other user of mediapipe in the process still gets it whole.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types

#: What face work never touches, as full module names (packages included).
UNUSED_MODULES = (
    "mediapipe.python.solutions.drawing_utils",
    "mediapipe.python.solutions.drawing_styles",
    "mediapipe.python.solutions.face_detection",
    "mediapipe.python.solutions.hands",
    "mediapipe.python.solutions.holistic",
    "mediapipe.python.solutions.objectron",
    "mediapipe.python.solutions.pose",
    "mediapipe.tasks.python.audio",
    "mediapipe.tasks.python.genai",
    "mediapipe.tasks.python.text",
)


def import_mediapipe() -> types.ModuleType:
    """The ``mediapipe`` package, imported with :data:`UNUSED_MODULES` deferred."""
    _defer_unused()
    import mediapipe

    _bind_deferred()
    return mediapipe


def face_mesh_connections() -> types.ModuleType:
    """MediaPipe's face mesh edge lists (``solutions.face_mesh_connections``, plain Python
    data), without running the package where it has not run yet: a render worker needs the
    tessellation and none of the native code, whose import costs it ~0.1 s."""
    name = "mediapipe.python.solutions.face_mesh_connections"
    if "mediapipe" in sys.modules:
        return importlib.import_module(name)
    package = importlib.util.find_spec("mediapipe")
    if package is None or not package.submodule_search_locations:
        return importlib.import_module(name)  # not installed: the real error
    root = next(iter(package.submodule_search_locations))
    spec = importlib.machinery.PathFinder.find_spec(
        name, [os.path.join(root, "python", "solutions")])
    if spec is None or spec.loader is None:
        return importlib.import_module(name)
    # Loaded as a module of its own, not registered under the package's name: the package,
    # when it runs later, loads its own copy of the same data.
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _defer_unused() -> None:
    """Register the stand-ins. Only before mediapipe first runs: once its package has run,
    the modules are loaded already and there is nothing left to save."""
    if "mediapipe" in sys.modules:
        return
    package = importlib.util.find_spec("mediapipe")  # finds the package without running it
    if package is None or not package.submodule_search_locations:
        return  # not installed: the import that follows raises the real error
    root = next(iter(package.submodule_search_locations))
    for name in UNUSED_MODULES:
        parent, _, _ = name.rpartition(".")
        folder = os.path.join(root, *parent.split(".")[1:])
        spec = importlib.machinery.PathFinder.find_spec(name, [folder])
        if spec is not None and name not in sys.modules:
            sys.modules[name] = _DeferredModule(name, spec)


def _bind_deferred() -> None:
    """Make each stand-in an attribute of its package, as a real import would have, so that
    ``mediapipe.solutions.drawing_utils`` keeps working."""
    for name in UNUSED_MODULES:
        parent_name, _, short_name = name.rpartition(".")
        parent, module = sys.modules.get(parent_name), sys.modules.get(name)
        if parent is not None and module is not None and not hasattr(parent, short_name):
            setattr(parent, short_name, module)


class _DeferredModule(types.ModuleType):
    """A module that executes its real code the first time an attribute is asked for."""

    def __init__(self, name: str, spec: importlib.machinery.ModuleSpec) -> None:
        super().__init__(name)
        self._deferred_spec = spec
        if spec.submodule_search_locations is not None:
            # A package: its submodules can be imported before it has run.
            self.__path__ = list(spec.submodule_search_locations)

    def __getattr__(self, attribute: str) -> object:
        # Only called for attributes the stand-in lacks, i.e. the real module's contents.
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        spec: importlib.machinery.ModuleSpec | None = self.__dict__.pop("_deferred_spec", None)
        if spec is None or spec.loader is None:
            raise AttributeError(attribute)
        real = importlib.util.module_from_spec(spec)
        sys.modules[self.__name__] = real
        spec.loader.exec_module(real)
        self.__dict__.update(real.__dict__)
        return getattr(real, attribute)
