"""An ONNX file of the user's own, predicted and inspected as the command line does it."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import wattfleet
from conftest import run_json
from test_torchscript import small_mlp


def test_an_onnx_file_is_predicted_as_the_command_predicts_it(measured_db, tmp_path):
    path = tmp_path / "mlp.onnx"
    torch.onnx.export(small_mlp(torch.nn.GELU()), torch.zeros(4, 1, 28, 28), str(path), opset_version=14)
    p = wattfleet.Dataset(measured_db).predict(onnx=path, device="cpu")
    cli = run_json("predict", "--db", measured_db, "--onnx", str(path), "--device", "cpu")
    assert p.energy_j == cli["energy_j"]
    assert p.params == 784 * 64 + 64 + 64 * 10 + 10
    assert p.unsupported == []

    inspected = wattfleet.inspect(onnx=path)
    assert inspected["family"] == "onnx"
    assert inspected["params"] == p.params
    # GELU as the exporter spells it (Div, Erf, Add, Mul, Mul) is one layer again.
    assert [l["type"] for l in inspected["layers"]] == ["Flatten", "Linear", "GELU", "Linear"]


def test_one_model_file_at_a_time(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        wattfleet.inspect(torchscript=tmp_path / "a.pt", onnx=tmp_path / "a.onnx")
