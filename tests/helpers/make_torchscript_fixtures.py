#!/usr/bin/python3
"""Traces the models that tests/unit/torchscript_import_test.cc imports.

Usage: make_torchscript_fixtures.py OUTPUT_DIR [NAME...]

For each model writes NAME.pt (torch.jit.trace output, saved with .save()) and NAME.json with
what the importer's results are checked against, computed on the Python side:
  params        sum(p.numel()) over the model's parameters
  input_shape   the per-sample input shape the model was traced with (no batch dimension)
  ops           operator kind -> count in the frozen, inlined forward graph, i.e. the graph
                the importer walks
Models are built with weights=None: nothing is downloaded. Exits 3 when torchvision cannot be
imported, so that the caller can tell a missing dependency from a failure.
"""
import json
import os
import sys
from collections import Counter

try:
    import torch
    import torchvision
except ImportError as e:  # the test skips on exit code 3 only
    print(f"make_torchscript_fixtures: {e}", file=sys.stderr)
    sys.exit(3)


class SmallCnn(torch.nn.Module):
    """conv/bn/relu/maxpool twice, flatten, dropout, linear, on [3,32,32]."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.drop = torch.nn.Dropout(0.25)
        self.fc = torch.nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)   # [8,16,16]
        x = torch.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)   # [16,4,4]
        return self.fc(self.drop(torch.flatten(x, 1)))


class Rolled(torch.nn.Module):
    """A convolution followed by operators the importer has no layer for."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        x = torch.roll(self.conv(x), 1, 2)
        x = torch.fft.fft2(x).abs()
        return self.fc(x.mean([2, 3]))


def vision(name):
    return lambda: getattr(torchvision.models, name)(weights=None)


MODELS = {
    "small_cnn": (SmallCnn, (3, 32, 32)),
    "resnet18": (vision("resnet18"), (3, 224, 224)),
    "mobilenet_v2": (vision("mobilenet_v2"), (3, 224, 224)),
    "vgg11": (vision("vgg11"), (3, 224, 224)),
    "efficientnet_b0": (vision("efficientnet_b0"), (3, 224, 224)),
    "densenet121": (vision("densenet121"), (3, 224, 224)),
    "shufflenet_v2_x0_5": (vision("shufflenet_v2_x0_5"), (3, 224, 224)),
    "squeezenet1_0": (vision("squeezenet1_0"), (3, 224, 224)),
    "rolled": (Rolled, (3, 16, 16)),
}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for name in names:
        make, shape = MODELS[name]
        model = make().eval()
        with torch.no_grad():
            traced = torch.jit.trace(model, torch.randn(1, *shape))
        path = os.path.join(out, name + ".pt")
        traced.save(path)
        # The same freezing as the importer: parameters become constants, calls are inlined,
        # BatchNorm is not folded.
        frozen = torch._C._freeze_module(torch.jit.load(path)._c)
        ops = Counter(n.kind() for n in frozen._get_method("forward").graph.nodes())
        info = {
            "params": sum(p.numel() for p in model.parameters()),
            "input_shape": list(shape),
            "ops": dict(ops),
        }
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(info, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
