"""docs/python.md's example runs as written: its ```python blocks, in order, in one namespace,
in a folder whose out/quickstart.db is a real measured dataset (as the README's first command
leaves it)."""

import os
import re
import shutil

SOURCE = os.environ.get("WATTFLEET_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))


def wattfleet_prediction_type():
    import wattfleet

    return wattfleet.Prediction


def python_blocks(path):
    with open(path) as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_python_guide_runs(measured_db, tmp_path, monkeypatch, capsys):
    blocks = python_blocks(os.path.join(SOURCE, "docs", "python.md"))
    assert len(blocks) >= 4
    (tmp_path / "out").mkdir()
    shutil.copy(measured_db, tmp_path / "out" / "quickstart.db")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_python_md"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
        except Exception as e:  # name the block that broke
            raise AssertionError(f"docs/python.md block {i + 1} failed: {e!r}\n{block}") from e
    out = capsys.readouterr().out
    # The guide prints a prediction of LeNet-5 at batch 16, labelled as what it is.
    assert "<wattfleet.Prediction lenet5 on cpu, batch 16:" in out
    assert "(estimate, measured-layers)>" in out
    assert isinstance(namespace["p"], wattfleet_prediction_type())
