"""Which interpreter this build of wattfleet is for, and imports that say so when they fail.

The native module is compiled for one Python (its ABI), and the examples need pandas (and
torch for ``predict_module``) installed for that same Python. Another ``python3`` on PATH (a
pyenv or conda one) fails with a bare ModuleNotFoundError; these say which interpreter to use.
"""

import importlib
import sys

from ._interpreter import PYTHON, VERSION


def _use_instead():
    return (f"wattfleet was built for {PYTHON} (Python {VERSION}); this is {sys.executable} "
            f"(Python {sys.version_info.major}.{sys.version_info.minor}). Run it with "
            f"{PYTHON}, or build wattfleet with -DPython_EXECUTABLE={sys.executable}.")


def native_error(error):
    """An ImportError for the native module that names the interpreter it was built for."""
    return ImportError(f"cannot load wattfleet's native module ({error}). {_use_instead()}")


def module(name, package):
    """Imports `name`; when this interpreter lacks it, says which one has it (`package`)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{name} is not installed in this interpreter. {_use_instead()} "
            f"(Debian: {package})", name=name) from error
