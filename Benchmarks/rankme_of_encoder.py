#!/usr/bin/env python3
"""RankMe of exported ConvNet encoders on the Fashion-MNIST test split, uncentred and centred.

    python3 Benchmarks/rankme_of_encoder.py runs/byol/version_0/encoder.safetensors [more.safetensors …]

Needs torch, safetensors and numpy, and Fashion-MNIST from Debian's `dataset-fashion-mnist`
(or `--data-dir`). For each encoder (a recipe's `encoder.safetensors`, the ConvNet backbone) it
embeds the 10 000 test images, normalised as the recipes do (mean 0.2860, std 0.3530), and
prints

    <file>: rankme <uncentred> centred <centred> top-PC variance <fraction>

RankMe is exp of the entropy of the normalised singular values (p = s / Σs + 1e-7). The
uncentred number is the recipe's definition (stable-ssl's RankMe monitor, and the paper's);
the centred one takes the singular values after subtracting the mean embedding, so that a
large common offset (ReLU features are non-negative) does not count as a collapsed direction.
The last number is the share of the variance on the first principal component.
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file


class Stage(nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), nn.BatchNorm2d(outputs)
        self.conv2, self.bn2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False), nn.BatchNorm2d(outputs)

    def forward(self, x):
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = nn.ModuleList([Stage(1, 32, 1), Stage(32, 64, 2), Stage(64, 128, 2)])

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        return x.mean(dim=(2, 3))


def rankme(embeddings):
    singular_values = np.linalg.svd(embeddings, compute_uv=False)
    p = singular_values / singular_values.sum() + 1e-7
    return float(np.exp(-(p * np.log(p)).sum()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoders", nargs="+", help="encoder.safetensors files of ConvNet runs")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    arguments = parser.parse_args()
    path = os.path.join(arguments.data_dir, "t10k-images-idx3-ubyte.gz")
    with gzip.open(path) as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    x = (torch.tensor(images, dtype=torch.float32) / 255 - 0.2860) / 0.3530
    torch.set_num_threads(2)
    for encoder_path in arguments.encoders:
        encoder = ConvNet()
        encoder.load_state_dict(load_file(encoder_path))
        encoder.eval()
        with torch.no_grad():
            z = torch.cat([encoder(x[i:i + 1000]) for i in range(0, len(x), 1000)]).double().numpy()
        centred = z - z.mean(axis=0)
        variances = np.linalg.svd(centred, compute_uv=False) ** 2
        print(f"{encoder_path}: rankme {rankme(z):.2f} centred {rankme(centred):.2f} "
              f"top-PC variance {variances[0] / variances.sum():.3f}")


if __name__ == "__main__":
    main()
