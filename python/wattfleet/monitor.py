"""Energy of your own code, read with the agent's meters (docs/python.md).

    mon = wattfleet.Monitor()
    mon.begin_window("epoch")
    train_one_epoch()
    w = mon.end_window("epoch")
    print(w.energy_j, w.time_s, w.quality_flags)
"""

import contextlib
import dataclasses
import functools
import itertools
import os
import sys
from typing import List, Optional

from . import _wattfleet


@dataclasses.dataclass(frozen=True)
class Window:
    """One window: the sensor's energy (J, idle included) and the wall time (s) between
    ``begin_window`` and ``end_window``. ``energy_is_estimate`` is True for the modeled
    meter (no power sensor: TDP x utilisation x time), whose energy is an estimate, never a
    measurement; ``energy_model`` then says what it assumes (its power at full load and
    idle). ``energy_dynamic_j`` is set once ``measure_idle`` has run."""

    name: str
    energy_j: float
    time_s: float
    sensor: str
    domain: str
    energy_is_estimate: bool
    energy_bound_j: float
    quality_flags: List[str]
    interference: Optional[float] = None
    energy_dynamic_j: Optional[float] = None
    job_id: Optional[int] = None  # with Monitor(dataset=...): the window's job in the dataset
    energy_model: Optional[str] = None

    @property
    def power_w(self):
        return self.energy_j / self.time_s if self.time_s > 0 else float("nan")


class Monitor:
    """Named windows over any code; they may nest and overlap.

    ``sensor``: ``auto`` (the best available: nvml for a ``cuda:N`` device, then rapl,
    hwmon, android, and the modeled estimate last), or a backend by name
    (``wattfleet.sensor_backends()`` lists each with what it measures). ``device``:
    ``cpu`` or ``cuda:N``; for a CUDA device, each window's ends first wait for the GPU's
    queued work (``torch.cuda.synchronize``) when PyTorch is loaded, so that a window holds
    the kernels its code launched. ``max_interference``: the other work (CPU cores, or the
    GPU's share) past which a window is flagged ``interference``. ``dataset``: also store
    every window there (an SQLite file, created when missing, or a ``postgresql://`` URI) as a
    measurement of kind ``window`` under the campaign ``campaign``, which export and the
    report show; ``fit`` never trains on windows. ``modeled_core_w``: the modeled
    estimate's power of one fully busy core in W (0: its default of 15); each window's
    ``energy_model`` says what the estimate assumed.
    """

    def __init__(self, sensor="auto", device="cpu", max_interference=0.5, *, dataset=None,
                 campaign="windows", sysfs_root="", proc_root="", nvml_library="",
                 modeled_core_w=0.0):
        self.device = device
        self._native = _wattfleet.WindowMonitor(sensor, device, max_interference, sysfs_root,
                                                proc_root, nvml_library, float(modeled_core_w))
        self._recorder = None
        if dataset is not None:
            device_class = "cuda" if device.startswith("cuda") else "cpu"
            self._recorder = _wattfleet.WindowRecorder(os.fspath(dataset), campaign,
                                                       device_class)

    @property
    def sensor(self):
        return self._native.sensor

    @property
    def domain(self):
        return self._native.domain

    @property
    def energy_is_estimate(self):
        return self._native.energy_is_estimate

    @property
    def why(self):
        """Why this sensor was chosen (for ``auto``)."""
        return self._native.why

    @property
    def open_windows(self):
        return list(self._native.open_windows)

    def _synchronize(self):
        if not self.device.startswith("cuda"):
            return
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.synchronize(self.device)

    def begin_window(self, name, sync=True):
        """Opens window ``name``; KeyError when one of that name is open."""
        if sync:
            self._synchronize()
        self._native.begin(name)

    def end_window(self, name, sync=True):
        """Closes window ``name`` and returns its ``Window``; KeyError when none is open,
        SensorError when the sensor read nonsense (the window then stays open)."""
        if sync:
            self._synchronize()
        if self._recorder is not None:
            return Window(**self._recorder.end_and_record(self._native, name))
        return Window(**self._native.end(name))

    def measure_idle(self, seconds=1.0):
        """Measures idle power now (this thread sleeps): later windows get
        ``energy_dynamic_j`` and the ``below-idle`` check. Returns watts."""
        return self._native.measure_idle(seconds)

    @property
    def idle_w(self):
        return self._native.idle_w

    @contextlib.contextmanager
    def window(self, name):
        """``with mon.window("x") as result: ...``; ``result.window`` is the Window after the
        block (the window is closed even when the block raises)."""
        holder = _Result()
        self.begin_window(name)
        try:
            yield holder
        except BaseException:
            # The block's own exception is what the caller sees; the window is closed anyway.
            try:
                self.end_window(name)
            except Exception:
                pass
            raise
        holder.window = self.end_window(name)

    def measure(self, name=None):
        """A decorator: every call of the function is one window; the last is ``.last``."""

        def wrap(fn):
            label = name or fn.__qualname__
            calls = itertools.count()

            @functools.wraps(fn)
            def run(*args, **kwargs):
                # Each call a window of its own: `label`, or `label#N` while a call of it is
                # still open (recursion, threads), which is the name a dataset stores.
                n = next(calls)
                own = label if label not in self._native.open_windows else f"{label}#{n}"
                with self.window(own) as result:
                    value = fn(*args, **kwargs)
                run.last = result.window
                return value

            run.last = None
            return run

        return wrap


class _Result:
    window: Optional[Window] = None
