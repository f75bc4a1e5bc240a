"""Networks of the user's own: a TorchScript file and a live torch.nn.Module predicted as the
command line predicts them."""

import pytest

torch = pytest.importorskip("torch")

import wattfleet
from conftest import run_json


def small_mlp(activation=None):
    """784 -> 64 -> 10 on MNIST-sized input; ReLU unless another activation module is given."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 64), activation or torch.nn.ReLU(),
        torch.nn.Linear(64, 10)
    ).eval()


def test_a_traced_file_is_predicted_as_the_command_predicts_it(measured_db, tmp_path):
    path = tmp_path / "mlp.pt"
    example = torch.zeros(4, 1, 28, 28)
    torch.jit.trace(small_mlp(), example).save(str(path))
    p = wattfleet.predict_torchscript(path, [4, 1, 28, 28], dataset=measured_db, device="cpu")
    cli = run_json("predict", "--db", measured_db, "--torchscript", str(path), "--input-shape",
                   "4", "1", "28", "28", "--device", "cpu")
    assert p.energy_j == cli["energy_j"]
    assert p.params == 784 * 64 + 64 + 64 * 10 + 10
    assert p.batch == 4
    assert p.unsupported == []

    inspected = wattfleet.inspect(torchscript=path, input_shape=[4, 1, 28, 28])
    assert inspected["params"] == p.params
    assert [l["type"] for l in inspected["layers"]] == ["Flatten", "Linear", "ReLU", "Linear"] \
        or [l["type"] for l in inspected["layers"]] == ["Linear", "ReLU", "Linear"]


def test_a_live_module_is_traced_and_predicted_the_same(measured_db, tmp_path):
    module = small_mlp()
    example = torch.zeros(4, 1, 28, 28)
    live = wattfleet.predict_module(module, example, dataset=measured_db, device="cpu")
    path = tmp_path / "same.pt"
    torch.jit.trace(module, example).save(str(path))
    traced = wattfleet.predict_torchscript(path, [4, 1, 28, 28], dataset=measured_db,
                                           device="cpu")
    assert live.energy_j == traced.energy_j
    assert live.time_s == traced.time_s


def test_a_file_that_is_not_torchscript_is_a_value_error(measured_db, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        wattfleet.predict_torchscript(bad, [1, 4], dataset=measured_db, device="cpu")
