"""wattfleet: measure and predict the energy of neural networks, layer by layer.

The Python surface of the wattfleet C++ core (docs/python.md):

- ``Dataset(path_or_uri)``: a dataset's measurements, layers and architectures as pandas
  DataFrames; ``fit`` and ``predict`` with the same numbers ``wattfleet fit`` and
  ``wattfleet predict`` print.
- ``predict_torchscript(path, input_shape, dataset=..., device=...)``,
  ``predict_module(module, example_input, ...)`` and ``Dataset.predict(onnx=path, ...)`` for
  networks of your own.
- ``Monitor(sensor="auto")``: ``begin_window(name)`` / ``end_window(name)`` around any code,
  read with the agent's meters.
- ``estimators()``: every estimator's name, kind and one line on what it is.
- ``inspect(...)``: an architecture's layers, MACs and parameters (a zoo name, a TorchScript or
  an ONNX file), as ``wattfleet inspect``.
- ``Dataset.publish(...)`` and ``import_package(db, package)``: a dataset as a package to
  share, and back, as ``wattfleet publish`` and ``wattfleet import --package``.
"""

from . import _requires

try:
    from ._wattfleet import SensorError, estimators, sensor_backends, version_line
except ImportError as _error:
    raise _requires.native_error(_error) from _error
from .dataset import (Dataset, Prediction, import_package, inspect, predict_module,
                      predict_torchscript)
from .monitor import Monitor, Window

__version__ = version_line.split()[1]

__all__ = [
    "Dataset",
    "Monitor",
    "Prediction",
    "SensorError",
    "Window",
    "estimators",
    "import_package",
    "inspect",
    "predict_module",
    "predict_torchscript",
    "sensor_backends",
    "__version__",
]
