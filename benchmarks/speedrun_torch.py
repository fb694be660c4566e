"""PyTorch's side of `benchmarks/speedrun.sh`: the best recipe tried to an MNIST test accuracy
with a plain MLP on the CPU, timed as dptrain's speedrun times itself (training only: the
evaluations, four an epoch, are not counted), stopping at the first evaluation that reaches
the target.

Recipe: 784-512-256-10 ReLU, batch 256, Adam at 3e-3 under OneCycleLR over EPOCHS epochs,
torch.set_num_threads(THREADS).

Usage: speedrun_torch.py MNIST_DIR TARGET SEED THREADS [EPOCHS]
Prints one JSON line: seconds, samples and epochs when the target was reached (reached false
and the best accuracy otherwise)."""
import gzip, json, os, sys, time
import numpy as np
import torch


def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(folder):
    x = lambda name: torch.from_numpy(idx(os.path.join(folder, name), 16).reshape(-1, 784).astype(np.float32) / 255)
    y = lambda name: torch.from_numpy(idx(os.path.join(folder, name), 8).astype(np.int64))
    return (x("train-images-idx3-ubyte.gz"), y("train-labels-idx1-ubyte.gz"),
            x("t10k-images-idx3-ubyte.gz"), y("t10k-labels-idx1-ubyte.gz"))


def main():
    folder, target, seed, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    batch, evaluations_per_epoch = 256, 4
    torch.set_num_threads(threads)
    xtr, ytr, xte, yte = load(folder)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps_per_epoch = (len(xtr) + batch - 1) // batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    loss_function = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    evaluate_at = {round(steps_per_epoch * k / evaluations_per_epoch) for k in range(1, evaluations_per_epoch + 1)}
    trained, samples, best = 0.0, 0, 0.0
    for epoch in range(epochs):
        order = torch.randperm(len(xtr), generator=generator)
        started = time.perf_counter()
        for step in range(steps_per_epoch):
            rows = order[step * batch:(step + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            loss_function(model(xtr[rows]), ytr[rows]).backward()
            optimizer.step()
            schedule.step()
            samples += len(rows)
            if step + 1 in evaluate_at:
                trained += time.perf_counter() - started
                with torch.no_grad():
                    accuracy = (model(xte).argmax(1) == yte).float().mean().item()
                best = max(best, accuracy)
                if accuracy >= target:
                    print(json.dumps({"system": "pytorch", "seed": seed, "threads": threads, "target": target, "reached": True,
                                      "accuracy": round(accuracy, 4), "seconds": round(trained, 3), "samples": samples,
                                      "epochs": round(samples / len(xtr), 2)}), flush=True)
                    return
                started = time.perf_counter()
        trained += time.perf_counter() - started
    print(json.dumps({"system": "pytorch", "seed": seed, "threads": threads, "target": target, "reached": False,
                      "accuracy": round(best, 4), "seconds": round(trained, 3), "samples": samples, "epochs": epochs}), flush=True)


if __name__ == "__main__":
    main()
