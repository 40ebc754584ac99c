#!/usr/bin/env python3
"""Predicted data-parallel scaling efficiency of SimCLR / ResNet-18 (docs/distributed.md).

A standard ring all-reduce model: reducing S bytes over N ranks takes
    2 (N - 1) / N * S / B  +  2 (N - 1) * alpha
(B: the bandwidth each rank sends and receives at, alpha: the latency of one message), once per
gradient bucket. The trainer's buckets are modelled as GradientSynchronizer builds them:
ResNet-18 (low-resolution stem, 3x32x32) and SimCLR's projector, parameters in reverse order,
a bucket closed before it would exceed 25 MiB. Backward reaches the layers in reverse; a bucket is
ready when its last layer's backward is done, backward time taken proportional to each layer's
multiply-adds. The all-reduces run one after another on one communication thread.

  without overlap: step = compute + sum of the buckets' all-reduces
  with overlap:    each bucket starts when ready (and when the one before it is done);
                   step = the end of the last all-reduce (at least compute)

Efficiency = the step's compute / the step's time (per rank). Two cases:
  fixed global batch (the recipes' --batch-size; 2 x 256 images split over N ranks): compute per
    rank = the one-process step / N (optimistic: small per-rank batches run kernels less well);
  fixed batch per rank (2 x 256 images on every rank; the global batch grows with N).

Usage: python3 Benchmarks/allreduce_scaling.py --step-ms 9000 [--bandwidth-cap-gbs 5.3]
       [--latency-us 30] [--forward-fraction 0.33]
"""
import argparse

MiB = 1 << 20


def resnet18_layers():
    """(name, parameters, multiply-adds per image) in forward order: ResNet-18 with the 3x3
    stride-1 stem at 32x32, then SimCLR's projector (512-512-128 with BatchNorm)."""
    layers = [("stem", 3 * 64 * 9 + 2 * 64, 32 * 32 * 64 * 3 * 9)]
    side, channels = 32, 64
    for stage, out in enumerate([64, 128, 256, 512]):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            inner = side // stride
            layers.append((f"layer{stage + 1}.{block}.conv1", channels * out * 9 + 2 * out, inner * inner * out * channels * 9))
            layers.append((f"layer{stage + 1}.{block}.conv2", out * out * 9 + 2 * out, inner * inner * out * out * 9))
            if stride != 1 or channels != out:
                layers.append((f"layer{stage + 1}.{block}.downsample", channels * out + 2 * out, inner * inner * out * channels))
            side, channels = inner, out
    layers.append(("projector.0", 512 * 512 + 512 + 2 * 512, 512 * 512))
    layers.append(("projector.3", 512 * 128 + 128, 512 * 128))
    return layers


def buckets(layers, bucket_bytes=25 * MiB):
    """[(bytes, fraction of backward done when it is ready)], in the order they start."""
    total_macs = sum(macs for _, _, macs in layers)
    result, current, done = [], 0, 0.0
    for _, params, macs in reversed(layers):
        if current and current + 4 * params > bucket_bytes:
            result.append((current, done))  # ready once the layers before this one are done
            current = 0
        current += 4 * params
        done += macs / total_macs
    result.append((current, 1.0))
    return result


def allreduce_seconds(size, ranks, bandwidth, latency):
    return 2 * (ranks - 1) / ranks * size / bandwidth + 2 * (ranks - 1) * latency


def step_time(compute, forward_fraction, bucket_list, ranks, bandwidth, latency, overlap):
    comms = [allreduce_seconds(size, ranks, bandwidth, latency) for size, _ in bucket_list]
    if not overlap:
        return compute + sum(comms)
    forward = compute * forward_fraction
    backward = compute - forward
    free = 0.0
    for (size, ready), comm in zip(bucket_list, comms):
        start = max(forward + ready * backward, free)
        free = start + comm
    return max(compute, free)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step-ms", type=float, required=True, help="one-process simclr-resnet18 step (2 x 256 images)")
    parser.add_argument("--bandwidth-cap-gbs", type=float, default=5.3,
                        help="the most the all-reduce software path reached (ssl-bench allreduce, GB/s)")
    parser.add_argument("--latency-us", type=float, default=30.0, help="latency of one message (assumed)")
    parser.add_argument("--forward-fraction", type=float, default=1 / 3, help="forward's share of the step")
    args = parser.parse_args()
    layers = resnet18_layers()
    bucket_list = buckets(layers)
    total = sum(4 * p for _, p, _ in layers)
    print(f"gradients {total / 1e6:.1f} MB in {len(bucket_list)} buckets: "
          + ", ".join(f"{s / 1e6:.1f} MB ready at {r:.0%} of backward" for s, r in bucket_list))
    step = args.step_ms / 1e3
    latency = args.latency_us * 1e-6
    for title, per_rank in [("fixed global batch 2 x 256 (compute per rank = step / N)", True),
                            ("2 x 256 images per rank (global batch 512 N)", False)]:
        print(f"\n{title}")
        print("| network | overlap | 8 ranks | 32 ranks | 128 ranks |")
        print("|---|---|---|---|---|")
        for gbits in [10, 25, 100]:
            bandwidth = min(gbits / 8, args.bandwidth_cap_gbs) * 1e9
            for overlap in [False, True]:
                cells = []
                for ranks in [8, 32, 128]:
                    compute = step / ranks if per_rank else step
                    total_time = step_time(compute, args.forward_fraction, bucket_list, ranks, bandwidth, latency, overlap)
                    cells.append(f"{compute / total_time:.0%}")
                print(f"| {gbits} Gb/s | {'yes' if overlap else 'no'} | " + " | ".join(cells) + " |")
    print("\nwhere the fixed global batch stops scaling (efficiency under 50%; the most ranks before the speed-up falls)")
    for gbits in [10, 25, 100]:
        bandwidth = min(gbits / 8, args.bandwidth_cap_gbs) * 1e9
        for overlap in [False, True]:
            half, best, best_speedup = None, 1, 0.0
            for ranks in range(2, 4097):
                total_time = step_time(step / ranks, args.forward_fraction, bucket_list, ranks, bandwidth, latency, overlap)
                if half is None and step / ranks / total_time < 0.5:
                    half = ranks
                if step / total_time > best_speedup:
                    best, best_speedup = ranks, step / total_time
            print(f"{gbits} Gb/s, overlap {'yes' if overlap else 'no'}: under 50% from {half} ranks; "
                  f"speed-up at most {best_speedup:.0f}x, at {best} ranks")


if __name__ == "__main__":
    main()
