"""Fixtures of the Python package's tests: the real binaries, and one small dataset measured
once per session by a real `wattfleet run` (local agents, the modeled CPU meter).

ctest sets WATTFLEET_BIN and WATTFLEET_AGENT_BIN; PYTHONPATH points at build/python.
"""

import json
import os
import subprocess
import sys

import pytest

# The campaign every test reads: a LeNet-5 and a sweep of MLPs, measured layer by layer and
# whole, with short windows (the figures are not for publishing; the code paths are real).
# The suite runs beside other tests: the CI target and the interference limit are set so
# that a busy machine does not flag every measurement out of fit and predict.
CAMPAIGN = """
name: pytest-small
mode: inference
dtype: float32
batch_size: 4
devices:
  - class: cpu
measurement:
  warmup_ms: 20
  min_window_ms: 40
  target_rel_ci: 0.99
  max_interference: 4096
  min_repeats: 2
  max_repeats: 3
  cooldown_ms: 0
architectures:
  - zoo: lenet5
  - family: mlp
    sweep:
      depth: [1, 2, 3]
      width: [16, 64]
      input: [[1, 28, 28]]
plan:
  layers: distinct
  whole_models: true
"""


def _binary(var):
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{var} must name the built binary (ctest sets it)")
    return path


@pytest.fixture(scope="session")
def wattfleet_bin():
    return _binary("WATTFLEET_BIN")


def run_cli(*args, check=True, timeout=600):
    """Runs `wattfleet ARGS` and returns the CompletedProcess (text)."""
    proc = subprocess.run([_binary("WATTFLEET_BIN"), *args], capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"wattfleet {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stderr}")
    return proc


def run_json(*args):
    return json.loads(run_cli(*args, "--json").stdout)


@pytest.fixture(scope="session")
def measured_db(tmp_path_factory):
    """A real dataset: `wattfleet run` of CAMPAIGN with one local agent."""
    _binary("WATTFLEET_AGENT_BIN")  # found by `run` through this variable
    root = tmp_path_factory.mktemp("measured")
    campaign = root / "small.yaml"
    campaign.write_text(CAMPAIGN)
    db = root / "small.db"
    proc = run_cli("run", str(campaign), "--agents", "1", "--sensor", "modeled", "--db",
                   str(db), check=False, timeout=900)
    # Exit 1 means some jobs ended unmeasured (a busy machine); the rest is still a dataset.
    assert proc.returncode in (0, 1), proc.stderr
    assert db.exists()
    return str(db)


@pytest.fixture
def python_exe():
    return sys.executable
