#!/usr/bin/env python3
"""Writes scikit-learn's bundled data sets (shipped inside the package: no download) in the
formats dptrain reads, for the tests on real data.

  write_sklearn_data.py digits FOLDER   -> FOLDER/digits.csv, digits.npz, idx/ (uint8, no test split)
  write_sklearn_data.py cancer FOLDER   -> FOLDER/cancer.csv (a header, the label column "diagnosis" last)
"""
import gzip
import os
import struct
import sys

import numpy as np


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def digits(folder):
    from sklearn.datasets import load_digits
    data = load_digits()
    images = data.images.astype(np.uint8)  # 1,797 8x8 images, values 0-16
    labels = data.target.astype(np.uint8)
    rows = np.column_stack([labels, images.reshape(len(images), -1)])
    np.savetxt(os.path.join(folder, "digits.csv"), rows, fmt="%d", delimiter=",")
    np.savez(os.path.join(folder, "digits.npz"), x_train=images, y_train=labels)
    idx = os.path.join(folder, "idx")
    os.makedirs(idx, exist_ok=True)
    write_idx(os.path.join(idx, "train-images-idx3-ubyte.gz"), images)
    write_idx(os.path.join(idx, "train-labels-idx1-ubyte.gz"), labels)


def cancer(folder):
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names] + ["diagnosis"]
    rows = np.column_stack([data.data, data.target])
    np.savetxt(os.path.join(folder, "cancer.csv"), rows, fmt="%.6g", delimiter=",", header=",".join(names), comments="")


if __name__ == "__main__":
    {"digits": digits, "cancer": cancer}[sys.argv[1]](sys.argv[2])
