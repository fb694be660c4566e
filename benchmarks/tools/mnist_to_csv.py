#!/usr/bin/env python3
"""Writes MNIST's IDX files as two CSVs, as Kaggle's and most tutorials' copies are: a header
row (label,pixel0,...,pixel783), the label first, then 784 whole-number pixels.
  mnist_to_csv.py MNIST_FOLDER OUT_FOLDER -> OUT_FOLDER/mnist_train.csv, mnist_test.csv"""
import gzip
import sys

import numpy as np

source, out = sys.argv[1:3]
for split, stem in (("train", "train"), ("test", "t10k")):
    with gzip.open(f"{source}/{stem}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784)
    with gzip.open(f"{source}/{stem}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read()[8:], dtype=np.uint8)
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    np.savetxt(f"{out}/mnist_{split}.csv", np.column_stack([labels, images]), fmt="%d", delimiter=",", header=header, comments="")
