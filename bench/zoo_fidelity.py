"""The zoo's whole models against torchvision's own modules, in one session.

For each torchvision model of the zoo, at 224 px and batch 1:
  1. torchvision's eager module is traced (torch.jit.trace, under no_grad) and saved;
  2. in this interpreter, rounds alternate three loops over the same input: the eager module
     under torch.inference_mode() (the agent's autograd state), the eager module under
     torch.no_grad() (what most inference scripts write), and the saved TorchScript module
     loaded back (what a `torchscript:` campaign's whole-model job runs);
  3. bench_whole_model alternates, in one process, the agent executor's run of the zoo's
     rebuild and of that TorchScript file, as whole-model inference jobs.
Each loop is timed over windows of about 0.25 s, which goes first rotating round by round;
each ratio is the median of the per-round ratios, so that the slow spells of a shared machine
fall on both sides of it. The rebuild against the eager module is (rebuild / TorchScript) /
(eager / TorchScript), both measured minutes apart at most. bench/RESULTS.md "Whole models as
users run them" has the table.

  /usr/bin/python3 bench/zoo_fidelity.py [--build build] [--threads 2] [--models a,b]
                                         [--max-forward-s 20]

A model whose first eager forward takes longer than --max-forward-s is listed as skipped, with
that time: Debian's libtorch runs matrix products through the system BLAS, and with the
reference BLAS a ViT-H/14 forward takes minutes.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

WINDOW_S = 0.25


def zoo_names(wattfleet):
    """The zoo's names that torchvision.models also has."""
    err = subprocess.run([wattfleet, "inspect", "--arch", "nosuchmodel"], capture_output=True,
                         text=True).stderr
    # An unknown name with no close match lists every name the zoo knows.
    known = [n.strip() for n in err.split("known:", 1)[1].split(",")]
    return [n for n in known if hasattr(torchvision.models, n)]


def window(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def interleaved(loops, rounds):
    """Per-round seconds per iteration of each loop, the order rotating round by round."""
    per = window(loops[0], 2)
    n = max(1, int(WINDOW_S / per))
    times = [[] for _ in loops]
    for r in range(rounds):
        for k in range(len(loops)):
            i = (k + r) % len(loops)
            times[i].append(window(loops[i], n))
    return times


def ratio(a, b):
    """Median and range of the per-round ratios a / b."""
    q = sorted(x / y for x, y in zip(a, b))
    return statistics.median(q), q[0], q[-1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default="")
    p.add_argument("--max-forward-s", type=float, default=20.0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.models.split(",") if args.models else zoo_names(
        os.path.join(args.build, "controller/wattfleet"))
    bench = os.path.join(args.build, "bench/bench_whole_model")
    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            model = getattr(torchvision.models, name)().eval()
            x = torch.randn(1, 3, 224, 224)
            with torch.inference_mode():
                first = window(lambda: model(x), 1)
            if first > args.max_forward_s:
                skipped.append((name, first))
                print(f"{name}: skipped, one forward took {first:.1f} s", file=sys.stderr,
                      flush=True)
                continue
            path = os.path.join(work, name + ".pt")
            with torch.no_grad():
                torch.jit.trace(model, x).save(path)
            ts = torch.jit.load(path).eval()

            def eager_im():
                with torch.inference_mode():
                    model(x)

            def eager_ng():
                with torch.no_grad():
                    model(x)

            def script():
                with torch.inference_mode():
                    ts(x)

            for f in (eager_im, eager_ng, script, script):  # warm-up; TorchScript profiles twice
                f()
            per = window(eager_im, 1)
            # About 20 s a side, at least 3 and at most 15 rounds.
            rounds = max(3, min(15, int(20 / (3 * per))))
            t_im, t_ng, t_ts = interleaved([eager_im, eager_ng, script], rounds)
            del model, ts
            out = subprocess.run([bench, "--threads", str(args.threads), "--rounds",
                                  str(rounds), f"{name}={path}"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"bench_whole_model {name}: {out.stderr}")
            _, zoo_ms, module_ms, z_med, z_lo, z_hi = out.stdout.split()
            os.remove(path)
            im = ratio(t_im, t_ts)
            ng = ratio(t_ng, t_ts)
            row = dict(name=name, rounds=rounds, eager_ms=1e3 * statistics.median(t_im),
                       zoo_ms=float(zoo_ms), module_ms=float(module_ms),
                       zoo_vs_module=(float(z_med), float(z_lo), float(z_hi)),
                       im_vs_module=im, ng_vs_module=ng)
            rows.append(row)
            print(f"{name}: rebuild/module {float(z_med):.3f}, eager(inference_mode)/module "
                  f"{im[0]:.3f}, eager(no_grad)/module {ng[0]:.3f}", file=sys.stderr, flush=True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, 224 px, batch 1, "
          f"{args.threads} threads; medians of per-round ratios (min-max)")
    print("| model | torchvision eager ms | rebuild / TorchScript | eager inference_mode / "
          "TorchScript | eager no_grad / TorchScript | rebuild / eager inference_mode | "
          "rebuild / eager no_grad |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        z, im, ng = r["zoo_vs_module"], r["im_vs_module"], r["ng_vs_module"]
        print(f"| {r['name']} | {r['eager_ms']:.1f} | {z[0]:.3f} ({z[1]:.2f}-{z[2]:.2f}) | "
              f"{im[0]:.3f} ({im[1]:.2f}-{im[2]:.2f}) | {ng[0]:.3f} ({ng[1]:.2f}-{ng[2]:.2f}) | "
              f"{z[0] / im[0]:.3f} | {z[0] / ng[0]:.3f} |")
    for name, first in skipped:
        print(f"| {name} | {1e3 * first:.0f} (one forward) | skipped: over --max-forward-s "
              f"{args.max_forward_s:g} s | | | | |")


if __name__ == "__main__":
    main()
