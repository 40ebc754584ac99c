#!/usr/bin/env python3
"""Checks `ssl-embed`'s embeddings.safetensors from outside (issue 13's done-when): Python's
`safetensors` reads it, and each row equals the features PyTorch computes for that row's file
with the run's encoder (ConvNet runs; the encoder loaded by reference_pytorch.py).

    .build/release/ssl-embed --run runs/simclr/version_0 --images /tmp/fmnist-png/test
    python3 Benchmarks/check_embeddings.py runs/simclr/version_0      # needs torch, safetensors, Pillow

The images are read with Pillow, converted to the run's channels, normalised with the run's
`normalize_mean`/`normalize_std` from hparams.json, and must already be the run's image size
(no resizing here). Prints the largest difference relative to the largest feature and the
weighted kNN accuracy (k 20, cosine, T 0.07) of the embeddings against themselves (leave one
out) as a second, label-based reading. Exits 1 when a row differs by more than --tolerance.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_pytorch import load_swift_encoder  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="the run directory (holds hparams.json, encoder.safetensors, embeddings/)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |ours - torch| / max |torch|")
    args = parser.parse_args()

    path = os.path.join(args.run, "embeddings", "embeddings.safetensors")
    embeddings = load_file(path)["embeddings"]
    with open(path, "rb") as handle:
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    metadata = header.get("__metadata__", {})
    paths = json.loads(metadata["paths"])
    labels = json.loads(metadata["labels"]) if "labels" in metadata else None
    hparams = json.load(open(os.path.join(args.run, "hparams.json")))
    mean, std = float(hparams["normalize_mean"].split(",")[0]), float(hparams["normalize_std"].split(",")[0])
    print(f"{path}: {embeddings.shape[0]} rows × {embeddings.shape[1]} (read by safetensors.numpy), "
          f"{len(paths)} paths, metadata keys {sorted(metadata)}")

    encoder, prefix = load_swift_encoder(os.path.join(args.run, "encoder.safetensors"), prefix=None)
    encoder.eval()
    pixels = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255 for p in paths])
    with torch.no_grad():
        theirs = torch.cat([encoder(((torch.from_numpy(pixels[i:i + 512]) - mean) / std)[:, None])
                            for i in range(0, len(pixels), 512)]).numpy()
    difference = np.abs(embeddings - theirs).max() / np.abs(theirs).max()
    print(f"largest |ssl-embed - PyTorch| / max |PyTorch| over all rows: {difference:.2e} (tolerance {args.tolerance:g})")

    if labels is not None:
        z = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        y = np.asarray(labels)
        similarity = z @ z.T
        np.fill_diagonal(similarity, -np.inf)
        top = np.argpartition(-similarity, 20, axis=1)[:, :20]
        weights = np.exp(np.take_along_axis(similarity, top, axis=1) / 0.07)
        votes = np.zeros((len(z), y.max() + 1))
        np.add.at(votes, (np.arange(len(z))[:, None], y[top]), weights)
        print(f"leave-one-out kNN accuracy of the embeddings among themselves: {(votes.argmax(1) == y).mean():.4f}")
    sys.exit(0 if difference <= args.tolerance else 1)


if __name__ == "__main__":
    main()
