"""wattfleet.Monitor: windows read with the agent's meters. A fake RAPL tree (the real RAPL
code reading files the test writes) gives exact energies; the modeled meter reads this
machine's real /proc."""

import json
import math
import os
import shutil
import subprocess
import sys
import time

import pytest

import wattfleet
from conftest import run_cli


class FakeRapl:
    """<root>/class/powercap/intel-rapl:0, a package domain whose counter the test sets."""

    def __init__(self, root):
        self.root = str(root)
        self.domain = os.path.join(self.root, "class", "powercap", "intel-rapl:0")
        os.makedirs(self.domain)
        for name, value in (("name", "package-0"), ("max_energy_range_uj", "262143328850")):
            with open(os.path.join(self.domain, name), "w") as f:
                f.write(value + "\n")
        self.set_uj(1_000_000)

    def set_uj(self, uj):
        # Written beside and renamed: the meter's poller never reads a half-written file.
        tmp = os.path.join(self.domain, "energy_uj.tmp")
        with open(tmp, "w") as f:
            f.write(f"{uj}\n")
        os.replace(tmp, os.path.join(self.domain, "energy_uj"))


def busy(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def test_a_window_is_the_counters_difference(tmp_path):
    rapl = FakeRapl(tmp_path)
    mon = wattfleet.Monitor(sensor="rapl", sysfs_root=rapl.root)
    assert mon.sensor == "rapl"
    assert not mon.energy_is_estimate
    mon.begin_window("step")
    rapl.set_uj(1_000_000 + 2_500_000)  # 2.5 J
    w = mon.end_window("step")
    assert w.energy_j == pytest.approx(2.5, abs=1e-9)
    assert w.sensor == "rapl"
    assert w.name == "step"
    assert w.time_s > 0
    assert not w.energy_is_estimate


def test_windows_nest_and_overlap(tmp_path):
    rapl = FakeRapl(tmp_path)
    mon = wattfleet.Monitor(sensor="rapl", sysfs_root=rapl.root)
    mon.begin_window("epoch")
    rapl.set_uj(2_000_000)
    mon.begin_window("step")
    rapl.set_uj(3_000_000)
    mon.begin_window("eval")
    rapl.set_uj(4_000_000)
    assert sorted(mon.open_windows) == ["epoch", "eval", "step"]
    step = mon.end_window("step")
    rapl.set_uj(6_000_000)
    ev = mon.end_window("eval")
    epoch = mon.end_window("epoch")
    assert step.energy_j == pytest.approx(2.0)
    assert ev.energy_j == pytest.approx(3.0)
    assert epoch.energy_j == pytest.approx(5.0)
    assert epoch.time_s >= ev.time_s
    assert mon.open_windows == []


def test_names_are_checked(tmp_path):
    mon = wattfleet.Monitor(sensor="rapl", sysfs_root=FakeRapl(tmp_path).root)
    with pytest.raises(KeyError, match="never"):
        mon.end_window("never")
    mon.begin_window("a")
    with pytest.raises(KeyError, match="already open"):
        mon.begin_window("a")


def test_unknown_and_unavailable_sensors_are_refused(tmp_path):
    backends = dict(wattfleet.sensor_backends())
    for name in ("nvml", "rapl", "hwmon", "android", "modeled", "simulated"):
        assert backends.get(name), name  # each with a line on what it measures
    # The refusal lists the registry's names.
    with pytest.raises(ValueError, match="thermometer.*modeled"):
        wattfleet.Monitor(sensor="thermometer")
    with pytest.raises(Exception, match="powercap"):
        wattfleet.Monitor(sensor="rapl", sysfs_root=str(tmp_path))  # no RAPL there


def test_context_manager_and_decorator(tmp_path):
    rapl = FakeRapl(tmp_path)
    mon = wattfleet.Monitor(sensor="rapl", sysfs_root=rapl.root)
    with mon.window("block") as result:
        rapl.set_uj(1_500_000)
    assert result.window.energy_j == pytest.approx(0.5)

    @mon.measure("fn")
    def work():
        rapl.set_uj(2_500_000)
        return 42

    assert work() == 42
    assert work.last.name == "fn"
    assert work.last.energy_j == pytest.approx(1.0)

    @mon.measure()
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3  # recursive calls: a window each, no name clash
    assert depth.last.name.endswith("depth")  # the outermost call, the last to end
    assert mon.open_windows == []
    with pytest.raises(RuntimeError):
        with mon.window("raises"):
            raise RuntimeError("boom")
    assert mon.open_windows == []  # closed even so


def test_idle_power_gives_dynamic_energy(tmp_path):
    rapl = FakeRapl(tmp_path)
    mon = wattfleet.Monitor(sensor="rapl", sysfs_root=rapl.root)
    watts = mon.measure_idle(0.05)  # the counter does not move: 0 W idle
    assert watts == 0
    mon.begin_window("w")
    rapl.set_uj(1_700_000)
    w = mon.end_window("w")
    assert w.energy_dynamic_j == pytest.approx(0.7)
    assert "below-idle" not in w.quality_flags


def test_the_modeled_meter_on_this_machine_says_it_is_an_estimate():
    mon = wattfleet.Monitor(sensor="modeled")
    mon.begin_window("busy")
    busy(0.3)
    w = mon.end_window("busy")
    assert w.energy_is_estimate
    assert w.sensor == "modeled"
    assert w.energy_j > 0
    assert 0.25 < w.time_s < 30
    assert w.interference is not None  # 0.3 s is long enough to count ticks


def test_the_modeled_meter_says_what_it_assumes():
    """Its power per core can be set, and every window says what the estimate assumed."""
    mon = wattfleet.Monitor(sensor="modeled", modeled_core_w=8)
    with mon.window("spin") as result:
        busy(0.05)
    assert result.window.energy_is_estimate
    assert result.window.energy_model.startswith("8 W per core x ")
    plain = wattfleet.Monitor(sensor="modeled")
    with plain.window("spin") as result:
        busy(0.05)
    assert result.window.energy_model.startswith("15 W per core x ")
    proc = run_cli("measure", "--sensor", "modeled", "--modeled-core-w", "9", "--idle-s", "0",
                   "--json", "--", "true", check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["energy_model"].startswith("9 W per core x ")


def test_measure_runs_a_command_and_keeps_its_exit_code():
    proc = run_cli("measure", "--sensor", "modeled", "--idle-s", "0.2", "--json", "--",
                   sys.executable, "-c", "import sys; sum(range(10**6)); sys.exit(3)",
                   check=False)
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 3
    assert doc["energy_j"] > 0
    assert doc["energy_is_estimate"] is True
    assert doc["idle_w"] > 0
    dynamic = doc["energy_j"] - doc["idle_w"] * doc["time_s"]
    if dynamic > 0:
        assert doc["energy_dynamic_j"] == pytest.approx(dynamic)
    else:  # idle measured while other work ran: unavailable and flagged, never <= 0
        assert doc["energy_dynamic_j"] is None
        assert "below-idle" in doc["quality_flags"]
    assert run_cli("measure", "--", "no-such-program-here", check=False).returncode == 127
    # With --json stdout is the document alone: the command's output goes to stderr.
    loud = run_cli("measure", "--sensor", "modeled", "--idle-s", "0", "--json", "--",
                   sys.executable, "-c", "print('hello from the command')", check=False)
    assert loud.returncode == 0, loud.stderr
    assert json.loads(loud.stdout)["exit_code"] == 0
    assert "hello from the command" in loud.stderr
    bad = run_cli("measure", "--sensor", "bogus", "--", "true", check=False)
    assert bad.returncode == 2 and "bogus" in bad.stderr
    assert run_cli("measure", check=False).returncode == 2


def test_measure_names_the_window_after_the_script(tmp_path):
    script = tmp_path / "work.py"
    script.write_text("sum(range(10**5))\n")
    db = tmp_path / "windows.db"
    named = run_cli("measure", "--sensor", "modeled", "--idle-s", "0", "--json", "--db", str(db),
                    "--", sys.executable, str(script))
    assert json.loads(named.stdout)["name"] == "work.py"
    rows = wattfleet.Dataset(db).measurements()
    assert list(rows[rows["kind"] == "window"]["architecture"]) == ["work.py"]
    chosen = run_cli("measure", "--sensor", "modeled", "--idle-s", "0", "--json", "--name",
                     "epoch-1", "--", sys.executable, str(script))
    assert json.loads(chosen.stdout)["name"] == "epoch-1"
    inline = run_cli("measure", "--sensor", "modeled", "--idle-s", "0", "--json", "--",
                     sys.executable, "-c", "pass")
    assert json.loads(inline.stdout)["name"] == os.path.basename(sys.executable)
    program = run_cli("measure", "--sensor", "modeled", "--idle-s", "0", "--json", "--",
                      "/bin/true")
    assert json.loads(program.stdout)["name"] == "true"


def test_windows_are_stored_in_a_dataset_and_never_fitted_on(tmp_path, measured_db):
    rapl = FakeRapl(tmp_path / "sys")
    db = tmp_path / "mixed.db"
    shutil.copy(measured_db, db)
    before = wattfleet.Dataset(db).predict(arch="lenet5", device="cpu", batch=4)
    mon = wattfleet.Monitor(sensor="rapl", sysfs_root=rapl.root, dataset=db,
                            campaign="train-loop")
    mon.begin_window("epoch-1")
    rapl.set_uj(1_000_000 + 4_000_000)  # 4 J
    first = mon.end_window("epoch-1")
    mon.begin_window("epoch-2")
    rapl.set_uj(1_000_000 + 5_500_000)  # 1.5 J more
    second = mon.end_window("epoch-2")
    assert first.job_id is not None and second.job_id == first.job_id + 1
    del mon  # the windows' campaign is finished

    rows = wattfleet.Dataset(db).measurements()
    windows = rows[rows["kind"] == "window"]
    assert list(windows["architecture"]) == ["epoch-1", "epoch-2"]
    assert list(windows["campaign"]) == ["train-loop", "train-loop"]
    assert windows["energy_j"].tolist() == pytest.approx([4.0, 1.5])
    assert (windows["sensor"] == "rapl").all()
    assert list(windows["job_id"]) == [first.job_id, second.job_id]
    # Honest rows: a window has no mode of ours and no confidence target, and without a
    # measured idle no dynamic energy, exactly as the Window itself says.
    assert first.energy_dynamic_j is None
    for column in ("mode", "ci_met", "rel_ci", "energy_dynamic_j", "idle_w"):
        assert windows[column].isna().all(), column
    # The campaign's measurements are all still there, and predictions do not move.
    assert len(rows) == len(wattfleet.Dataset(measured_db).measurements()) + 2
    after = wattfleet.Dataset(db).predict(arch="lenet5", device="cpu", batch=4)
    assert after.energy_j == before.energy_j
    status = json.loads(run_cli("report", "--db", str(db), "--out", str(tmp_path / "r.html"),
                                "--json").stdout)
    assert status["plots"] > 0

    # A command measured into the same dataset, under its own campaign.
    proc = run_cli("measure", "--sensor", "modeled", "--idle-s", "0", "--db", str(db),
                   "--campaign", "cli-runs", "--json", "--", "true", check=False)
    assert proc.returncode == 0, proc.stderr
    job = json.loads(proc.stdout)["job_id"]
    rows = wattfleet.Dataset(db).measurements()
    stored = rows[rows["job_id"] == job]
    assert list(stored["campaign"]) == ["cli-runs"]
    assert list(stored["kind"]) == ["window"]
    # With idle measured first, the row's dynamic energy and idle are the window's own.
    proc = run_cli("measure", "--sensor", "modeled", "--idle-s", "0.2", "--db", str(db),
                   "--campaign", "cli-runs", "--json", "--", sys.executable, "-c",
                   "import time; t = time.time() + 0.3\nwhile time.time() < t: pass",
                   check=False)
    assert proc.returncode == 0, proc.stderr
    window = json.loads(proc.stdout)
    assert window["idle_w"] > 0
    rows = wattfleet.Dataset(db).measurements()
    stored = rows[rows["job_id"] == window["job_id"]].iloc[0]
    assert stored["idle_w"] == pytest.approx(window["idle_w"])
    if window["energy_dynamic_j"] is None:
        # A busy machine: idle measured while others ran reads as high as the work. Both say
        # "unavailable", and why.
        assert "below-idle" in window["quality_flags"]
        assert math.isnan(stored["energy_dynamic_j"])
        assert "below-idle" in stored["quality_flags"]
    else:
        assert window["energy_dynamic_j"] > 0
        assert stored["energy_dynamic_j"] == pytest.approx(window["energy_dynamic_j"])
        assert stored["energy_dynamic_j"] != pytest.approx(stored["energy_j"])
    bad = run_cli("measure", "--sensor", "modeled", "--db", str(db), "--campaign", "no spaces",
                  "--", "true", check=False)
    assert bad.returncode == 2 and "no spaces" in bad.stderr
