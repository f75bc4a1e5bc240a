"""Imported from an interpreter it was not built for (another python3 on PATH), the package
says which interpreter to use instead of failing with a bare ModuleNotFoundError."""

import os
import subprocess
import sys


def run_python(code):
    """`code` in a fresh interpreter (this one, with the test's PYTHONPATH)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def test_a_missing_pandas_names_the_interpreter_wattfleet_was_built_for(measured_db):
    # sys.modules[name] = None makes `import name` fail as it does where it is not installed.
    proc = run_python(
        "import sys; sys.modules['pandas'] = None\n"
        "import wattfleet\n"
        f"wattfleet.Dataset({str(measured_db)!r}).layers()\n")
    assert proc.returncode != 0
    assert "ModuleNotFoundError: pandas is not installed in this interpreter" in proc.stderr
    assert "wattfleet was built for" in proc.stderr
    assert "python3-pandas" in proc.stderr


def test_a_native_module_that_does_not_load_names_the_interpreter():
    proc = run_python("import sys; sys.modules['wattfleet._wattfleet'] = None\n"
                      "import wattfleet\n")
    assert proc.returncode != 0
    assert "cannot load wattfleet's native module" in proc.stderr
    assert "wattfleet was built for" in proc.stderr
    assert "-DPython_EXECUTABLE=" in proc.stderr
