"""wattfleet.Dataset against the command line on the same real dataset: the same rows, the
same predictions, the same fits."""

import io
import json
import math

import pandas as pd
import pytest

import wattfleet
from conftest import run_cli, run_json


def test_measurements_are_the_export(measured_db):
    frame = wattfleet.Dataset(measured_db).measurements()
    exported = pd.read_csv(io.StringIO(run_cli("export", "--db", measured_db, "--out", "-").stdout))
    assert len(frame) > 0
    assert list(frame.columns) == list(exported.columns)
    assert len(frame) == len(exported)
    # Typed columns, not text: every figure exactly as JSON Lines gives it (the CSV rounds).
    lines = run_cli("export", "--db", measured_db, "--format", "jsonl", "--out", "-").stdout
    exact = [json.loads(line) for line in lines.splitlines() if line.strip()]
    for column in ("energy_j", "time_s", "energy_std_j", "macs", "job_id", "batch"):
        assert frame[column].tolist() == [row[column] for row in exact], column
    assert frame["energy_j"].tolist() == pytest.approx(exported["energy_j"].tolist(), rel=1e-9)
    assert frame["macs"].dtype.kind == "i" and frame["energy_j"].dtype.kind == "f"
    assert set(frame["kind"]) == {"layer", "model"}
    assert (frame["sensor"] == "modeled").all()
    assert frame["energy_is_estimate"].all()


def test_an_unknown_campaign_and_a_missing_file_are_value_errors(measured_db, tmp_path):
    with pytest.raises(ValueError, match="--campaign 99"):
        wattfleet.Dataset(measured_db).measurements(campaign=99)
    # Listing the campaigns there are, by name and id.
    with pytest.raises(ValueError, match=r"its campaigns: pytest-small \(#1\)"):
        wattfleet.Dataset(measured_db).measurements(campaign="pytest-smal")
    with pytest.raises(ValueError, match="no such dataset"):
        wattfleet.Dataset(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_a_campaign_is_named_by_its_name_or_its_id(measured_db, tmp_path):
    ds = wattfleet.Dataset(measured_db)
    by_name = ds.measurements(campaign="pytest-small")
    by_id = ds.measurements(campaign=1)
    assert len(by_name) > 0
    assert by_name["job_id"].tolist() == by_id["job_id"].tolist()
    # The command takes both too.
    out = tmp_path / "by-name.csv"
    run_cli("export", "--db", str(measured_db), "--campaign", "pytest-small", "--format", "csv",
            "--out", str(out))
    assert len(out.read_text().splitlines()) == len(by_name) + 1
    bad = run_cli("export", "--db", str(measured_db), "--campaign", "nope", "--format", "csv",
                  "--out", str(tmp_path / "x.csv"), check=False)
    assert bad.returncode == 2 and "pytest-small (#1)" in bad.stderr


def test_architectures_and_layers_are_those_of_the_campaign(measured_db):
    ds = wattfleet.Dataset(measured_db)
    archs = ds.architectures()
    names = set(archs["name"])
    assert "lenet5" in names
    assert len(names) == 7  # lenet5 and 3 x 2 MLPs
    lenet = archs[archs["name"] == "lenet5"].iloc[0]
    inspected = run_json("inspect", "--arch", "lenet5")
    assert lenet["params"] == inspected["params"]
    assert lenet["macs"] == inspected["macs"]
    assert lenet["layers"] == len(inspected["layers"])
    assert (archs["campaign"] == "pytest-small").all()

    layers = ds.layers()
    assert len(layers) > 0
    assert {"Linear", "Conv2d"} <= set(layers["type"])
    assert layers["key"].is_unique


def test_predict_gives_the_numbers_the_command_prints(measured_db):
    p = wattfleet.Dataset(measured_db).predict(arch="lenet5", device="cpu", batch=4)
    cli = run_json("predict", "--db", measured_db, "--arch", "lenet5", "--device", "cpu",
                   "--batch", "4")
    assert p.energy_j == cli["energy_j"]
    assert p.time_s == cli["time_s"]
    assert p.energy_j_std == cli["energy_j_std"]
    assert p.source == "estimate"
    assert p.estimator == "measured-layers"
    assert "estimate" in repr(p)
    layers = p.layers
    assert list(layers["name"]) == [l["name"] for l in cli["layers"]]
    measured = layers["energy_j"].dropna()
    assert len(measured) > 0
    assert math.isclose(measured.sum(), sum(l["energy_j"] for l in cli["layers"]
                                            if l["energy_j"] is not None))


def test_predict_refuses_what_the_command_refuses(measured_db):
    ds = wattfleet.Dataset(measured_db)
    with pytest.raises(ValueError, match="--device tpu"):
        ds.predict(arch="lenet5", device="tpu")
    with pytest.raises(ValueError, match="resnet18"):
        ds.predict(arch="ResNet18", device="cpu")  # did-you-mean names the zoo's spelling
    with pytest.raises(ValueError, match="--batch"):
        ds.predict(arch="lenet5", device="cpu", batch=0)
    # A training run's figures need a training prediction.
    with pytest.raises(ValueError, match="--mode training"):
        ds.predict(arch="lenet5", device="cpu", samples=1000)
    with pytest.raises(ValueError, match="--optimizer adagrad"):
        ds.predict(arch="lenet5", device="cpu", mode="training", optimizer="adagrad")


def test_predict_has_an_interval_and_takes_the_flags_switch(measured_db):
    ds = wattfleet.Dataset(measured_db)
    p = ds.predict(arch="lenet5", device="cpu", batch=4, include_flagged=True)
    cli = run_json("predict", "--db", measured_db, "--arch", "lenet5", "--device", "cpu",
                   "--batch", "4", "--include-flagged")
    assert p.time_s == cli["time_s"]
    assert p.training_set["include_flagged"] is True
    assert ds.predict(arch="lenet5", device="cpu", batch=4).training_set["include_flagged"] is False
    low, high = p.time_s_interval
    assert low <= p.time_s <= high
    assert p.reach >= 1.0
    assert p.reach_text == cli["reach_text"]


def test_energy_grows_with_the_batch(measured_db):
    ds = wattfleet.Dataset(measured_db)
    energies = [ds.predict(arch="lenet5", device="cpu", batch=b).energy_j for b in (1, 4, 16)]
    assert energies[0] > 0
    assert energies[0] <= energies[1] <= energies[2]


def test_fit_is_the_commands_fit(measured_db):
    doc = wattfleet.Dataset(measured_db).fit(estimators=["macs", "measured-layers"],
                                             target="energy")
    cli = run_json("fit", "--db", measured_db, "--estimator", "macs,measured-layers",
                   "--target", "energy")
    key = lambda r: (r["device"], r["estimator"], r["split"], r["target"])
    assert sorted(map(key, doc["results"])) == sorted(map(key, cli["results"]))
    ours = {key(r): r for r in doc["results"]}
    for r in cli["results"]:
        assert ours[key(r)]["n"] == r["n"]
        assert ours[key(r)]["median_ape"] == pytest.approx(r["median_ape"], rel=1e-9)
    with pytest.raises(ValueError, match="--estimator"):
        wattfleet.Dataset(measured_db).fit(estimators="stepwise")


def test_the_estimator_catalog_is_what_fit_takes(measured_db):
    catalog = {name: (kind, line) for name, kind, line in wattfleet.estimators()}
    assert catalog["powerlaw"][0] == "operations" and catalog["step"][0] == "projection"
    measured = [name for name, (kind, _) in catalog.items() if kind == "measured"]
    assert "thor" in measured and all(line for _, line in catalog.values())
    # Every measured estimator fits by its catalog name; a name outside it is refused.
    doc = wattfleet.Dataset(measured_db).fit(estimators=measured, target="time", split="kfold")
    assert {r["estimator"] for r in doc["results"]} == set(measured)
    with pytest.raises(ValueError, match="--estimator"):
        wattfleet.Dataset(measured_db).fit(estimators=["step"])


def test_a_server_dataset_is_not_looked_for_on_disk():
    # A PostgreSQL URI goes to its backend (and fails there, at the first read), never to a
    # "no such dataset" check on a file of that name.
    ds = wattfleet.Dataset("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(Exception) as failure:
        ds.measurements()
    assert "no such dataset" not in str(failure.value)
