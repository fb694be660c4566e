#!/usr/bin/env python3
"""Re-saves a dptrain model as a PyTorch nn.Sequential(Linear, ReLU, Linear, ...) state_dict
would be saved by `safetensors.torch.save_file(model.state_dict(), path)`: keys 0.weight,
0.bias, 2.weight, 2.bias, ... (the activations take the odd numbers), weights as
[out_features, in_features], float32, no metadata. Written with safetensors and NumPy, which
give the same file as torch does (the torch wheel with its CUDA libraries is gigabytes; CI
installs neither). Then prints the accuracy NumPy's own forward pass of that file gets on the
MNIST test files in DATA, the check that the layout is what PyTorch means.

  pytorch_layout.py DPTRAIN_MODEL OUT DATA
"""
import gzip
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

source, out, data = sys.argv[1:4]
tensors = load_file(source)
layers = sorted({int(name.split(".")[1]) for name in tensors})
state = {}
for position, layer in enumerate(layers):
    state[f"{2 * position}.weight"] = np.ascontiguousarray(tensors[f"layers.{layer}.weight"].T)  # (in, out) -> (out, in)
    if f"layers.{layer}.bias" in tensors:
        state[f"{2 * position}.bias"] = tensors[f"layers.{layer}.bias"]
save_file(state, out)

with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784).astype(np.float32) / np.float32(255)
with gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read()[8:], dtype=np.uint8)
x = images
for position in range(len(layers)):
    x = x @ state[f"{2 * position}.weight"].T + state.get(f"{2 * position}.bias", 0)
    if position < len(layers) - 1:
        x = np.maximum(x, 0)  # nn.ReLU
print(f"{(x.argmax(axis=1) == labels).mean():.4f}")
