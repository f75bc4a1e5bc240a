#!/usr/bin/python3
"""Exports the models that tests/unit/onnx_import_test.cc imports, and writes hostile files.

Usage: make_onnx_fixtures.py OUTPUT_DIR

For each model writes NAME.onnx (torch.onnx.export of the module in eval mode, at the opset
the name ends with) and NAME.json with what the importer's results are checked against,
computed on the Python side: params (sum(p.numel())), macs (forward hooks, as
make_torchscript_fixtures.py counts them), input_shape (batch first, as exported).

The hostile files are written with the onnx package's helpers: truncated.onnx (half of a
model), huge_tensor.onnx (an initializer declaring 2^80 elements), nested.onnx (If nodes
nested 200 deep: a protobuf bomb for a recursive parser), two_inputs.onnx, dropout_mask.onnx
(a dropout's mask read as data), rolled.onnx (an operator with no layer) and free_batch.onnx (a symbolic batch dimension); same_pad.onnx and
same_pad_strided.onnx are padded as TensorFlow's "same".

Models are built with weights=None: nothing is downloaded. Exits 3 when torch, torchvision
or onnx cannot be imported, so that the caller can tell a missing dependency from a failure.
"""
import json
import math
import os
import sys

try:
    import onnx
    import torch
    import torchvision
    from onnx import TensorProto, helper
except ImportError as e:  # the test skips on exit code 3 only
    print(f"make_onnx_fixtures: {e}", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_torchscript_fixtures as ts  # noqa: E402  (the modules and the MAC count)


class ZooBert(torch.nn.Module):
    """The zoo's `bert` family as PyTorch modules: token and learned position embeddings, an
    embedding LayerNorm, post-norm GELU encoder layers, a pooler (Linear + Tanh on the first
    token) and a two-class classifier. Called with layers=2, d_model=64, heads=4, seq=16,
    vocab=1000, it is the zoo's bert-l2-d64-h4-s16-v1000."""

    def __init__(self, vocab=1000, d=64, heads=4, layers=2, seq=16):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Parameter(torch.randn(1, seq, d))
        self.norm = torch.nn.LayerNorm(d)
        self.drop = torch.nn.Dropout(0.1)
        self.enc = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, activation="gelu",
                                             batch_first=True) for _ in range(layers)])
        self.pooler = torch.nn.Linear(d, d)
        self.classifier = torch.nn.Linear(d, 2)

    def forward(self, ids):
        x = self.drop(self.norm(self.tok(ids) + self.pos))
        for layer in self.enc:
            x = layer(x)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))


class Rolled(torch.nn.Module):
    """A convolution and an operator with no layer (CumSum)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.cumsum(self.conv(x), 1)


def vision(name):
    return lambda: getattr(torchvision.models, name)(weights=None)


# name -> (constructor, input shape without batch, opset, token ids?)
MODELS = {
    "resnet18_14": (vision("resnet18"), (3, 224, 224), 14, False),
    "mobilenet_v2_14": (vision("mobilenet_v2"), (3, 224, 224), 14, False),
    "efficientnet_b0_14": (vision("efficientnet_b0"), (3, 224, 224), 14, False),
    "vit_b_16_14": (vision("vit_b_16"), (3, 224, 224), 14, False),
    "zoo_bert_14": (ZooBert, (16,), 14, True),
    "zoo_bert_17": (ZooBert, (16,), 17, True),
    "gpt_like_14": (ts.GptLike, (16,), 14, True),
    "small_cnn_14": (ts.SmallCnn, (3, 32, 32), 14, False),
    "rolled_14": (Rolled, (3, 16, 16), 14, False),
}


def export(out, name):
    make, shape, opset, tokens = MODELS[name]
    model = make().eval()
    example = torch.randint(0, 1000, (1, *shape)) if tokens else torch.randn(1, *shape)
    path = os.path.join(out, name + ".onnx")
    # The checker and shape inference are the importer's; the exporter's own are skipped.
    torch.onnx.export(model, example, path, opset_version=opset, input_names=["x"],
                      output_names=["y"])
    info = {"params": sum(p.numel() for p in model.parameters()),
            "macs": ts.hook_macs(model, example), "input_shape": [1, *shape]}
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)


def small_graph(inputs, initializers=(), nodes=None, out_shape=None):
    x = inputs[0].name
    nodes = nodes or [helper.make_node("Relu", [x], ["y"])]
    dims = [d.dim_param or d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    graph = helper.make_graph(
        nodes, "g", inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape or dims)],
        initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def hostile(out):
    with open(os.path.join(out, "resnet18_14.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(out, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    huge = TensorProto()
    huge.name = "w"
    huge.data_type = TensorProto.FLOAT
    huge.dims.extend([1 << 40, 1 << 40])
    huge.raw_data = b"\0" * 16
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    onnx.save(small_graph([x], [huge], [node]), os.path.join(out, "huge_tensor.onnx"))

    # If nodes nested 200 deep, built from the inside out.
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    inner = leaf
    for depth in range(200):  # one branch nests, the other is a leaf: linear in the depth
        node = helper.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=leaf)
        inner = helper.make_graph([node], f"g{depth}", [],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(
        helper.make_graph(list(inner.node), "top", [cond, x],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
        opset_imports=[helper.make_opsetid("", 14)])
    with open(os.path.join(out, "nested.onnx"), "wb") as f:
        f.write(model.SerializeToString())

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 8])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 8])
    node = helper.make_node("Add", ["a", "b"], ["y"])
    onnx.save(small_graph([a, b], nodes=[node]), os.path.join(out, "two_inputs.onnx"))

    # A dropout's mask read as data: an output no rule maps, which must not be read past.
    nodes = [helper.make_node("Dropout", ["x"], ["d", "mask"]),
             helper.make_node("Cast", ["mask"], ["m"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["d", "m"], ["y"])]
    onnx.save(small_graph([x], nodes=nodes), os.path.join(out, "dropout_mask.onnx"))

    free = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])
    onnx.save(small_graph([free]), os.path.join(out, "free_batch.onnx"))


def same_padding(out):
    """Convolutions and a pool padded as TensorFlow's "same" (auto_pad), as tf2onnx writes
    them: same_pad.onnx pads both sides alike; same_pad_strided.onnx's stride-2 convolution
    over 32 pixels pads one side more."""
    weights = [helper.make_tensor(name, TensorProto.FLOAT, dims, [0.0] * math.prod(dims))
               for name, dims in (("w1", [8, 3, 3, 3]), ("w2", [4, 8, 5, 5]))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], auto_pad="SAME_UPPER"),
             helper.make_node("MaxPool", ["a"], ["b"], kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
             helper.make_node("Conv", ["b", "w2"], ["y"], auto_pad="SAME_LOWER")]
    onnx.save(small_graph([x], weights, nodes, [1, 4, 32, 32]), os.path.join(out, "same_pad.onnx"))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])]
    onnx.save(small_graph([x], weights[:1], nodes, [1, 8, 16, 16]),
              os.path.join(out, "same_pad_strided.onnx"))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for name in MODELS:
        export(out, name)
    hostile(out)
    same_padding(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
