#!/usr/bin/env python3
"""Writes Fashion-MNIST as image folders, for training the recipes on "your own images" and
comparing with the IDX files (issue 13's checks).

    python3 Benchmarks/write_image_folders.py --out /tmp/fmnist-png             # 70 000 PNGs, 28×28 grey
    python3 Benchmarks/write_image_folders.py --out /tmp/fmnist-jpeg --jpeg-rgb 96

PNG mode: train/ and test/ images in ten class folders named after the classes
(train/T-shirt_top/00000.png …). `--dataset folder --data-dir /tmp/fmnist-png/train` trains on
the 60 000; use `--val-fraction` for the held-out share.

JPEG mode (`--jpeg-rgb SIDE`): the same images upscaled (bicubic) to SIDE×SIDE and tinted with a
per-image colour (seeded), saved as quality-90 JPEGs: a colour, larger-resolution folder for
ResNet-18 at 96 px.

Needs numpy and Pillow (pip install numpy pillow); reads the gzip IDX files from
/usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist) or --idx-dir.
"""
import argparse
import gzip
import os

import numpy as np
from PIL import Image

CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]


def read_idx(path, offset):
    with gzip.open(path) as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=offset)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idx-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jpeg-rgb", type=int, metavar="SIDE", help="write SIDE×SIDE tinted RGB JPEGs instead of PNGs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(os.path.join(args.idx_dir, f"{prefix}-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28)
        labels = read_idx(os.path.join(args.idx_dir, f"{prefix}-labels-idx1-ubyte.gz"), 8)
        for name in CLASSES:
            os.makedirs(os.path.join(args.out, split, name), exist_ok=True)
        for index, (image, label) in enumerate(zip(images, labels)):
            folder = os.path.join(args.out, split, CLASSES[label])
            if args.jpeg_rgb:
                grey = Image.fromarray(image).resize((args.jpeg_rgb, args.jpeg_rgb), Image.BICUBIC)
                tint = rng.uniform(0.4, 1.0, size=3)
                rgb = (np.asarray(grey, dtype=np.float32)[..., None] * tint).clip(0, 255).astype(np.uint8)
                Image.fromarray(rgb, "RGB").save(os.path.join(folder, f"{index:05d}.jpg"), quality=90)
            else:
                Image.fromarray(image).save(os.path.join(folder, f"{index:05d}.png"))
        print(f"{split}: {len(labels)} images in {args.out}/{split}")


if __name__ == "__main__":
    main()
