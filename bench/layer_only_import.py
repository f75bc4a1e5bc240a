#!/usr/bin/env python3
"""A layer-only dataset evaluated end to end, with a known law.

Writes, into OUT_DIR, what a lab publishing a CodeCarbon-style layer benchmark would: a
per-layer CSV of random Conv2d / Linear / pooling / activation configurations (one row per
configuration: module, channels, kernel, stride, padding, image size, batch, kWh and seconds
over N passes), and whole-model CSVs of two families: VGGs (family A) and AlexNet with the
SqueezeNets (family B), at batches 1, 4 and 16. Costs follow a known law (a per-call
overhead, MACs at one rate, memory traffic at another, views a call; 3 % noise), whole models
at 1.15 times the sum of their layers. Then imports them and fits on the layers, with κ from
family A's whole models, scoring family B's (held out):

    python3 bench/layer_only_import.py OUT_DIR [WATTFLEET]

Prints the `fit` table; `OUT_DIR/fit.json` holds the document.
"""
import csv
import json
import os
import random
import subprocess
import sys

PASSES = 50
WATTS = 15.0  # the imaginary lab's CPU under load
WHOLE_FACTOR = 1.15


def law_seconds(layer_type, macs, elements):
    """One pass of one layer: 4 µs a call; 25 GMAC/s; 2 G elements/s read or written."""
    if layer_type in ("Flatten", "Dropout"):
        return 1e-6
    return 4e-6 + macs / 25e9 + elements / 2e9


def noisy(rng, value):
    return value * rng.gauss(1.0, 0.03)


def random_layers(rng, count):
    rows = []
    for _ in range(count):
        module = rng.choice(["Conv2d"] * 4 + ["Linear"] * 2 + ["MaxPool2d", "ReLU",
                                                               "AdaptiveAvgPool2d", "Dropout",
                                                               "Flatten"])
        batch = rng.choice([1, 4, 16])
        cin = rng.choice([3, 16, 32, 64, 96, 128, 192, 256, 384, 512])
        cout = rng.choice([16, 32, 64, 128, 192, 256, 384, 512])
        kernel = rng.choice([1, 3, 5])
        stride = rng.choice([1, 1, 2])
        padding = kernel // 2
        image = rng.choice([7, 13, 14, 27, 28, 55, 56])
        if module == "Conv2d":
            out_image = (image + 2 * padding - kernel) // stride + 1
            macs = cin * cout * kernel * kernel * out_image * out_image
            elements = cin * image * image + cout * out_image * out_image
        elif module == "Linear":
            cin = rng.choice([256, 512, 1024, 2048, 4096, 9216])
            cout = rng.choice([10, 100, 1000, 2048, 4096])
            kernel = stride = padding = image = 0
            macs = cin * cout
            elements = cin + cout + cin * cout  # the weights are read once per pass
        elif module == "MaxPool2d":
            kernel, stride, padding = 3, 2, 0
            out_image = (image - kernel) // stride + 1
            macs = 0
            elements = cin * image * image + cin * out_image * out_image
        elif module == "AdaptiveAvgPool2d":
            kernel = stride = padding = 0
            macs = 0
            elements = cin * image * image + cin * 36
        else:  # ReLU, Dropout, Flatten over [cin, image, image]
            kernel = stride = padding = 0
            macs = 0
            elements = 2 * cin * image * image
        seconds = noisy(rng, law_seconds(module, macs * batch, elements * batch)) * PASSES
        rows.append({"module": module, "in_channels": cin, "out_channels": cout,
                     "kernel": kernel, "stride": stride, "padding": padding,
                     "image_size": image, "batch": batch,
                     "energy_kwh": seconds * WATTS / 3.6e6, "duration_s": seconds,
                     "passes": PASSES})
    return rows


def whole_model_seconds(wattfleet, arch, batch):
    doc = json.loads(subprocess.run([wattfleet, "inspect", "--arch", arch, "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    total = 0.0
    for layer in doc["layers"]:
        inputs = 1
        for d in layer["input_shape"]:
            inputs *= d
        outputs = 1
        for d in layer["output_shape"]:
            outputs *= d
        elements = inputs + outputs
        if layer["type"] == "Linear":
            elements += layer["params"]
        total += law_seconds(layer["type"], layer["macs"] * batch, elements * batch)
    return WHOLE_FACTOR * total


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


LAYER_MAPPING = """source: lab-layers
csv: layers.csv
device: {name: lab-cpu}
record:
  kind: operation
  name: "{module}"
  time_s: duration_s / passes
  energy_j: energy_kwh * 3.6e6 / passes
  batch: batch
  layer:
    type: "{module}"
    params:
      Conv2d: {in_channels: in_channels, out_channels: out_channels, kernel_size: kernel,
               stride: stride, padding: padding}
      Linear: {in_features: in_channels, out_features: out_channels}
      MaxPool2d: {kernel_size: kernel, stride: stride}
      AdaptiveAvgPool2d: {output_size: 6}
    input:
      Conv2d: [in_channels, image_size, image_size]
      MaxPool2d: [in_channels, image_size, image_size]
      AdaptiveAvgPool2d: [in_channels, image_size, image_size]
      ReLU: [in_channels, image_size, image_size]
      Dropout: [in_channels, image_size, image_size]
      Flatten: [in_channels, image_size, image_size]
      Linear: [in_channels]
"""

MODEL_MAPPING = """source: {source}
csv: {csv}
device: {{name: lab-cpu}}
record:
  kind: architecture
  name: "{{model}}-b{{batch}}"
  zoo: "{{model}}"
  batch: batch
  time_s: seconds
  energy_j: joules
"""


def main():
    out = sys.argv[1]
    wattfleet = sys.argv[2] if len(sys.argv) > 2 else "build/controller/wattfleet"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    write_csv(os.path.join(out, "layers.csv"), random_layers(rng, 400))
    families = {"lab-vgg": ["vgg11", "vgg13", "vgg16", "vgg19"],
                "lab-other": ["alexnet", "squeezenet1_0", "squeezenet1_1"]}
    for source, archs in families.items():
        rows = []
        for arch in archs:
            for batch in (1, 4, 16):
                seconds = noisy(rng, whole_model_seconds(wattfleet, arch, batch))
                rows.append({"model": arch, "batch": batch, "seconds": seconds,
                             "joules": WATTS * seconds})
        write_csv(os.path.join(out, source + ".csv"), rows)
        with open(os.path.join(out, source + ".yaml"), "w") as f:
            f.write(MODEL_MAPPING.format(source=source, csv=source + ".csv"))
    with open(os.path.join(out, "layers.yaml"), "w") as f:
        f.write(LAYER_MAPPING)
    db = os.path.join(out, "lab.db")
    if os.path.exists(db):
        os.remove(db)
    for mapping in ("layers.yaml", "lab-vgg.yaml", "lab-other.yaml"):
        subprocess.run([wattfleet, "import", "--db", db, "--mapping",
                        os.path.join(out, mapping)], check=True, stdout=subprocess.DEVNULL)
    fit = [wattfleet, "fit", "--db", db, "--estimator", "wattlayer,measured-layers,macs",
           "--holdout-campaign", "import:lab-other", "--split", "kfold"]
    doc = subprocess.run(fit + ["--json"], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(out, "fit.json"), "w") as f:
        f.write(doc)
    print(" ".join(fit))
    for r in json.loads(doc)["results"]:
        if r["n"] == 0:
            print(f'{r["estimator"]:16} {r["target"]:7} {r["split"]:9} not scored: {r["error"]}')
            continue
        small = r.get("small_data_interval") or {}
        cover = f'{100 * small["coverage"]:.0f} % of {small["n"]}' if small else "-"
        widths = sorted(p["small_data_interval"][1] / p["small_data_interval"][0]
                        for p in r["points"] if p.get("small_data_interval"))
        width = f'x/{widths[len(widths) // 2] ** 0.5:.2f}' if widths else ""
        print(f'{r["estimator"]:16} {r["target"]:7} {r["split"]:9} n={r["n"]:3} '
              f'median APE {100 * r["median_ape"]:5.1f} %  p90 {100 * r["p90_ape"]:5.1f} %  '
              f'small-data interval held {cover} {width}')


if __name__ == "__main__":
    main()
