#!/usr/bin/python3
"""Traces the models that tests/unit/torchscript_import_test.cc imports.

Usage: make_torchscript_fixtures.py OUTPUT_DIR [NAME...]

For each model writes NAME.pt (torch.jit.trace output, saved with .save()) and NAME.json with
what the importer's results are checked against, computed on the Python side:
  params        sum(p.numel()) over the model's parameters
  input_shape   the per-sample input shape the model was traced with (no batch dimension)
  ops           operator kind -> count in the frozen, inlined forward graph, i.e. the graph
                the importer walks
  macs          multiply-accumulates of one sample, counted with forward hooks on the
                modules that do them (Linear, Conv2d, attention, encoder layers)
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


class BertLike(torch.nn.Module):
    """Token and learned position embeddings, nn.TransformerEncoderLayer (PyTorch's fused fast
    path), a final LayerNorm and a classifier on the first token: [16] token ids."""

    def __init__(self, vocab=1000, d=64, heads=4, layers=2, seq=16):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Parameter(torch.randn(1, seq, d))
        self.enc = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, activation="gelu",
                                             batch_first=True) for _ in range(layers)])
        self.ln = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, 2)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        for layer in self.enc:
            x = layer(x)
        return self.head(self.ln(x)[:, 0])


class GptLike(torch.nn.Module):
    """Pre-norm decoder blocks under a causal mask (which keeps nn.TransformerEncoderLayer off
    its fast path: the attention is traced operator by operator), position embeddings looked
    up from a buffer, a language-model head without bias: [16] token ids. d = 96 with 4 heads:
    the head width's square root (4.9) is not the head count, so the two cannot be confused."""

    def __init__(self, vocab=1000, d=96, heads=4, layers=2, seq=16):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Embedding(seq, d)
        self.blocks = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.register_buffer("mask", torch.triu(torch.full((seq, seq), float("-inf")), 1))
        self.register_buffer("positions", torch.arange(seq))
        self.ln = torch.nn.LayerNorm(d)
        self.lm = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(self.positions)
        for block in self.blocks:
            x = block(x, src_mask=self.mask)
        return self.lm(self.ln(x))


class PatchTokens(torch.nn.Module):
    """A small ViT written as timm writes it: flatten(2).transpose(1, 2), a class token,
    nn.MultiheadAttention called with its weights returned (off the fast path)."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.proj = torch.nn.Conv2d(3, d, 8, stride=8)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, d))
        self.pos = torch.nn.Parameter(torch.zeros(1, 17, d))
        self.attn = torch.nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, 10)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = x + self.attn(x, x, x)[0]
        return self.head(self.norm(x)[:, 0])


def hook_macs(model, example):
    """MACs of one forward pass of `example` (batch 1), from hooks on the modules that do
    them; the submodules of an attention or encoder module are counted by it, not again."""
    total = [0]
    owners = (torch.nn.TransformerEncoderLayer, torch.nn.MultiheadAttention)

    def attention(l, e):
        return 4 * l * e * e + 2 * l * l * e

    def sequence(module, y):
        # [batch, L, E] with batch_first, else [L, batch, E]; read from the output, since
        # attention modules are often called with keywords only (no positional inputs).
        attn = module.self_attn if isinstance(module, torch.nn.TransformerEncoderLayer) else module
        return (y.shape[-2] if attn.batch_first else y.shape[0]), y.shape[-1]

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.TransformerEncoderLayer):
            l, e = sequence(module, output)
            total[0] += attention(l, e) + 2 * l * e * module.linear1.out_features
            return
        if isinstance(module, torch.nn.MultiheadAttention):
            total[0] += attention(*sequence(module, output[0]))
            return
        x = inputs[0]
        if isinstance(module, torch.nn.Linear):
            total[0] += x.numel() // module.in_features * module.in_features * module.out_features
        elif isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total[0] += output.numel() * k * module.in_channels // module.groups

    skip = set()
    for name, module in model.named_modules():
        if isinstance(module, owners):
            skip.update(id(m) for m in module.modules() if m is not module)
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if id(m) not in skip and isinstance(
                   m, owners + (torch.nn.Linear, torch.nn.Conv2d))]
    with torch.no_grad():
        model(example)
    for h in handles:
        h.remove()
    return total[0]


def vision(name):
    return lambda: getattr(torchvision.models, name)(weights=None)


MODELS = {
    "small_cnn": (SmallCnn, (3, 32, 32)),
    "resnet18": (vision("resnet18"), (3, 224, 224)),
    "mobilenet_v2": (vision("mobilenet_v2"), (3, 224, 224)),
    "vgg11": (vision("vgg11"), (3, 224, 224)),
    "efficientnet_b0": (vision("efficientnet_b0"), (3, 224, 224)),
    "densenet121": (vision("densenet121"), (3, 224, 224)),
    "regnet_x_400mf": (vision("regnet_x_400mf"), (3, 224, 224)),
    "shufflenet_v2_x0_5": (vision("shufflenet_v2_x0_5"), (3, 224, 224)),
    "squeezenet1_0": (vision("squeezenet1_0"), (3, 224, 224)),
    "rolled": (Rolled, (3, 16, 16)),
    "vit_b_16": (vision("vit_b_16"), (3, 224, 224)),
    "bert_like": (BertLike, (16,)),
    "gpt_like": (GptLike, (16,)),
    "patch_tokens": (PatchTokens, (3, 32, 32)),
}

# Models whose input is token ids rather than pixels.
TOKEN_INPUT = {"bert_like", "gpt_like"}


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
        if name in TOKEN_INPUT:
            example = torch.randint(0, 1000, (1, *shape))
        else:
            example = torch.randn(1, *shape)
        with torch.no_grad():
            traced = torch.jit.trace(model, example)
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
            "macs": hook_macs(model, example),
        }
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(info, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
