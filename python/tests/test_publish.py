"""`wattfleet publish` read as a dataset venue and a stranger would read it: croissant.json
expanded as JSON-LD by an independent implementation (pyld), datapackage.json's Table Schemas
checked against the CSVs they describe, the checksums recomputed, and the tables loaded with
pandas, typed as the schemas say."""

import csv
import hashlib
import json
import pathlib
import re

import pandas as pd
import pytest
from pyld import jsonld

import wattfleet
from conftest import run_cli

SCHEMA = "https://schema.org/"
CR = "http://mlcommons.org/croissant/"


@pytest.fixture(scope="module")
def package(measured_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("published") / "pkg"
    run_cli("publish", "--db", measured_db, "--out", str(out), "--license", "CC-BY-4.0",
            "--title", "A small energy dataset", "--creator", "A. Researcher",
            "--date", "2026-12-07")
    return out


def test_checksums_match_every_file(package):
    listed = {}
    for line in (package / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split("  ", 1)
        listed[path] = digest
    on_disk = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {"SHA256SUMS"}
    for path, digest in listed.items():
        assert hashlib.sha256((package / path).read_bytes()).hexdigest() == digest, path


def test_croissant_expands_as_json_ld(package):
    doc = json.loads((package / "croissant.json").read_text())
    expanded = jsonld.expand(doc)
    assert len(expanded) == 1
    dataset = expanded[0]
    assert SCHEMA + "Dataset" in dataset["@type"]
    assert dataset[SCHEMA + "license"][0]["@value"].endswith("CC-BY-4.0.html")
    assert dataset[SCHEMA + "datePublished"][0]["@value"] == "2026-12-07"
    # The RAI fields expand to their vocabulary.
    rai = "http://mlcommons.org/croissant/RAI/"
    for field in ("dataCollection", "dataLimitations", "dataPreprocessingProtocol",
                  "dataUseCases"):
        assert dataset[rai + field][0]["@value"], field
    objects = dataset[SCHEMA + "distribution"]
    assert all(CR + "FileObject" in o["@type"] for o in objects)
    hashes = {o["@id"]: o[SCHEMA + "sha256"][0]["@value"] for o in objects}
    # Relative @ids resolve against no base: the file paths themselves.
    for name, digest in hashes.items():
        path = package / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    record_sets = dataset[CR + "recordSet"]
    assert {r[SCHEMA + "name"][0]["@value"] for r in record_sets} == {
        "measurements", "repeats", "jobs", "layers", "architectures", "devices", "campaigns"}
    for record_set in record_sets:
        for field in record_set[CR + "field"]:
            assert field[CR + "dataType"][0]["@id"].startswith(SCHEMA)
            source = field[CR + "source"][0]
            assert source[CR + "fileObject"][0]["@id"] in hashes


def _typed(value, kind):
    if value == "":
        return None
    return {"integer": int, "number": float, "string": str,
            "boolean": lambda v: {"true": True, "false": False}[v]}[kind](value)


def test_table_schemas_describe_the_csvs(package):
    doc = json.loads((package / "datapackage.json").read_text())
    assert doc["profile"] == "tabular-data-package"
    names = [resource["name"] for resource in doc["resources"]]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[-a-z0-9._/]+", name) for name in names + [doc["name"]]), names
    tables = {}
    for resource in doc["resources"]:
        if "schema" not in resource:
            continue
        fields = resource["schema"]["fields"]
        with open(package / resource["path"], newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == [field["name"] for field in fields], resource["path"]
        typed = [{field["name"]: _typed(cell, field["type"]) for field, cell in zip(fields, row)}
                 for row in rows[1:]]
        key = resource["schema"]["primaryKey"]
        assert len({tuple(r[k] for k in key) for r in typed}) == len(typed), resource["name"]
        tables[resource["name"]] = (resource, typed)
    # Every foreign key resolves.
    for resource, typed in tables.values():
        for fk in resource["schema"].get("foreignKeys", []):
            target = {r[fk["reference"]["fields"]] for r in tables[fk["reference"]["resource"]][1]}
            assert all(r[fk["fields"]] in target for r in typed), resource["name"]
    measurements = tables["measurements"][1]
    assert sum(r["repeats"] for r in measurements) == len(tables["repeats"][1])


def test_the_published_measurements_are_the_dataset(package, measured_db):
    lines = (package / "data" / "measurements.jsonl").read_text().splitlines()
    published = pd.DataFrame([json.loads(line) for line in lines])
    frame = wattfleet.Dataset(measured_db).measurements()
    assert list(published.columns) == list(frame.columns)
    assert published["energy_j"].tolist() == frame["energy_j"].tolist()
    assert published["job_id"].tolist() == frame["job_id"].tolist()


def test_a_folder_in_use_is_refused_and_left_alone(measured_db, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "notes.txt").write_text("mine")
    proc = run_cli("publish", "--db", measured_db, "--out", str(tmp_path / "pkg"), "--license",
                   "CC-BY-4.0", "--title", "t", check=False)
    assert proc.returncode == 2
    assert "not an empty folder" in proc.stderr
    assert [p.name for p in (tmp_path / "pkg").iterdir()] == ["notes.txt"]
    proc = run_cli("publish", "--db", measured_db, "--out", str(tmp_path / "new"), "--license",
                   "CC-BY-4.0", "--title", "t", "--campaign", "nope", check=False)
    assert proc.returncode == 2 and "--campaign nope" in proc.stderr
    assert not pathlib.Path(tmp_path / "new").exists()


def test_a_package_imports_back_as_the_dataset_it_was_published_from(package, measured_db,
                                                                      tmp_path):
    db = str(tmp_path / "imported.db")
    doc = json.loads(run_cli("import", "--db", db, "--package", str(package), "--json").stdout)
    assert doc["ids_kept"] and not doc["already_imported"]
    for fmt in ("csv", "jsonl"):
        assert run_cli("export", "--db", db, "--format", fmt, "--out", "-").stdout == \
            run_cli("export", "--db", measured_db, "--format", fmt, "--out", "-").stdout
    fit = ("fit", "--estimator", "wattlayer,measured-layers,macs", "--target", "time",
           "--json")
    assert json.loads(run_cli(*fit[:1], "--db", db, *fit[1:]).stdout)["results"] == \
        json.loads(run_cli(*fit[:1], "--db", measured_db, *fit[1:]).stdout)["results"]
    again = json.loads(run_cli("import", "--db", db, "--package", str(package), "--json").stdout)
    assert again["already_imported"]


def test_a_changed_package_is_refused_and_nothing_stored(package, tmp_path):
    changed = tmp_path / "changed"
    import shutil
    shutil.copytree(package, changed)
    rows = (changed / "data" / "jobs.jsonl").read_text().splitlines()
    # Whatever attempt the first job was (a busy machine retries some), it becomes another.
    edited = rows[0].replace('"attempt":', '"attempt":9', 1)
    assert edited != rows[0]
    rows[0] = edited
    (changed / "data" / "jobs.jsonl").write_text("\n".join(rows) + "\n")
    db = tmp_path / "new.db"
    proc = run_cli("import", "--db", str(db), "--package", str(changed), check=False)
    assert proc.returncode == 2
    assert "SHA-256" in proc.stderr and "data/jobs.jsonl" in proc.stderr
    assert not db.exists()


def test_python_publishes_and_imports_as_the_commands_do(measured_db, package, tmp_path):
    out = tmp_path / "from-python"
    doc = wattfleet.Dataset(measured_db).publish(out, license="CC-BY-4.0",
                                                 title="A small energy dataset",
                                                 creators="A. Researcher", date="2026-12-07")
    assert doc["rows"]["measurements"] == len(wattfleet.Dataset(measured_db).measurements())
    # The same bytes as the command's package of the same data and date.
    for name in ("SHA256SUMS", "croissant.json", "data/measurements.csv"):
        assert (out / name).read_bytes() == (package / name).read_bytes(), name
    imported = tmp_path / "imported.db"
    assert wattfleet.import_package(imported, out)["ids_kept"]
    assert wattfleet.Dataset(imported).measurements().equals(
        wattfleet.Dataset(measured_db).measurements())
    with pytest.raises(ValueError, match="not an empty folder"):
        wattfleet.Dataset(measured_db).publish(out, license="CC-BY-4.0", title="t")
