#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (Fuzz/corpus/HARNESS/NAME): one small, valid input
of each kind each harness reads, for libFuzzer to start from. The wire seeds follow
Sources/Wire/Protocol.swift; the checkpoint and the model come from a real `dptrain train` run
on a 20-sample CSV (dptrain on PATH, or .build/debug/dptrain). Run it again when a layout changes:

    python3 Fuzz/make-corpus.py
"""
import gzip, io, json, os, shutil, struct, subprocess, sys, tempfile, zipfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "Fuzz", "corpus")

def write(harness, name, data):
    folder = os.path.join(corpus, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)

# --- the wire: header (magic, version, type, run id, step, payload length), meta, bulk ---
VERSION = 7  # the wire harness sets the build's own version (choice bit 3); the others encode it
MAGIC = 0x52545044
RUN = 0x5EED

def s(text):
    data = text.encode()
    return struct.pack("<I", len(data)) + data

def header(kind, meta, bulk, run=RUN, step=0):
    return struct.pack("<IHHQQQ", MAGIC, VERSION, kind, run, step, len(meta) + len(bulk))

TO_COORDINATOR, TO_WORKER, BF16, HAS_RUN, SET_VERSION, TO_SERVER = 0, 1, 2, 4, 8, 16
PARAMETERS = 8  # the harness's parameter count is byte 1 % 64 + 1

def wire_seed(name, receiver, kind, meta, bulk=b"", run=RUN, step=0, flags=0, shard=4):
    choice = receiver | flags | SET_VERSION | (HAS_RUN if run else 0)
    h = header(kind, meta, bulk, run, step)
    data = bytes([choice, PARAMETERS - 1, shard]) + struct.pack("<H", len(h)) + h + struct.pack("<H", len(meta)) + meta + bulk
    write("wire-messages", name, data)

hello = struct.pack("<I", 0) + s("host-a") + s("SkylakeX") + bytes([1]) + struct.pack("<H", 2)
wire_seed("hello", TO_COORDINATOR, 1, hello, run=0)
wire_seed("hello-shared-memory", TO_COORDINATOR, 1, hello + s("boot ns uid 1000"), run=0)
config = json.dumps({"wirePrecision": "float32"}).encode()
welcome = struct.pack("<II", 3, len(config)) + config + struct.pack("<I", PARAMETERS)
wire_seed("welcome", TO_WORKER, 2, welcome, run=0)
wire_seed("welcome-shared-memory", TO_WORKER, 2, welcome + struct.pack("<IIQIQII", 4242, 5, 99, 6, 100, 7, 8), run=0)
wire_seed("refuse", TO_WORKER, 3, struct.pack("<H", 2) + s("the run is full"))
labels = bytes([0, 1, 0, 1])
shard_meta = struct.pack("<IIIBf", 4, 3, 2, 1, 1 / 255) + labels
wire_seed("shard-bytes", TO_WORKER, 4, shard_meta, bytes(range(12)))
wire_seed("shard-floats", TO_WORKER, 4, struct.pack("<IIIBf", 4, 3, 2, 2, 1.0) + labels, struct.pack("<12f", *range(12)))
step_meta = struct.pack("<II4II2I2I", 0, 4, 0, 1, 2, 3, 2, 3, 1, 0, 5)
weights = struct.pack("<8f", *[0.5 * i for i in range(PARAMETERS)])
wire_seed("step", TO_WORKER, 5, step_meta, weights, step=1)
wire_seed("step-bf16", TO_WORKER, 5, step_meta, b"".join(struct.pack("<f", 0.5 * i)[2:] for i in range(PARAMETERS)), step=1, flags=BF16)
gradient_meta = struct.pack("<IdQIB", 4, 2.5, 1000, 3, 8)
wire_seed("gradient", TO_COORDINATOR, 6, gradient_meta, struct.pack("<8q", *range(-4, 4)), step=1)
wire_seed("gradient-packed", TO_COORDINATOR, 6, gradient_meta[:-1] + bytes([2]), struct.pack("<8h", *range(-4, 4)), step=1)
wire_seed("heartbeat", TO_COORDINATOR, 7, b"")
wire_seed("goodbye", TO_COORDINATOR, 8, b"")
wire_seed("shutdown", TO_WORKER, 9, b"")
wire_seed("failure", TO_COORDINATOR, 10, s("the loss became NaN"))
# Parameter servers (a server's range is the harness's parameter count of values).
wire_seed("server-hello", TO_COORDINATOR, 11, s("tcp://10.0.0.2:5600") + s("node2 pid 7") + s(""), run=0)
wire_seed("server-welcome", TO_SERVER, 12, struct.pack("<IIQQI", 0, 2, 0, PARAMETERS, len(config)) + config + struct.pack("<QB", 3, 1),
          struct.pack("<16f", *[0.25 * i for i in range(2 * PARAMETERS)]), run=0, step=4)
wire_seed("attach", TO_SERVER, 13, struct.pack("<I", 2))
wire_seed("slice", TO_SERVER, 14, struct.pack("<II2IB", 2, 2, 0, 3, 2), struct.pack("<8h", *range(-4, 4)), step=4)
wire_seed("weights", TO_WORKER, 15, struct.pack("<Q", 16), weights, step=4)
wire_seed("commit", TO_SERVER, 16, struct.pack("<fII", 0.1, 256, 2) + struct.pack("<II2I", 1, 2, 0, 1) + struct.pack("<III", 2, 1, 2)
          + struct.pack("<I2I", 2, 1, 2) + struct.pack("<Q", 5), step=4)
wire_seed("fetch", TO_SERVER, 17, b"")
wire_seed("member-keys", TO_SERVER, 19, struct.pack("<I", 2) + s("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7") + s("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"))
wire_seed("range-state", TO_COORDINATOR, 18, struct.pack("<IQQQB", 1, 8, PARAMETERS, 3, 0), weights, step=4)

# --- the doorbell's stream: u32 length, then 3 x (u32 n, n bytes), bulk empty ---
def framed(kind, meta, step=1):
    h = header(kind, meta, b"", RUN, step)
    body = struct.pack("<I", len(h)) + h + struct.pack("<I", len(meta)) + meta + struct.pack("<I", 0)
    return struct.pack("<I", len(body)) + body

write("pipe-framing", "steps", bytes([TO_WORKER | 0x10]) + framed(5, step_meta, 1) + framed(5, step_meta, 2))
write("pipe-framing", "answers", bytes([TO_COORDINATOR | 0x02]) + framed(6, gradient_meta, 1) + framed(7, b"", 0))

# --- shared memory: choice, parameter count, step, the segment's header and data ---
def segment(choice, step, length, data):
    head = struct.pack("<QQQ", step, length, 0).ljust(64, b"\0")
    return bytes([choice, PARAMETERS - 1]) + struct.pack("<Q", step) + head + data

write("shared-memory", "weights", segment(0, 3, PARAMETERS * 4, weights))
write("shared-memory", "gradient", segment(1 | (7 << 2), 3, PARAMETERS * 8, struct.pack("<8q", *range(8))))
write("shared-memory", "gradient-packed", segment(1 | (1 << 2), 3, PARAMETERS * 2, struct.pack("<8h", *range(8))))

# --- IDX, raw and gzipped: byte 0 bit 0 = an images file (3 dimensions) ---
labels_idx = bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([0, 1, 2, 3])
images_idx = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 2, 2) + bytes(range(8))
write("idx", "labels", bytes([0]) + labels_idx)
write("idx", "images", bytes([1]) + images_idx)
write("idx", "labels-gzip", bytes([0]) + gzip.compress(labels_idx, mtime=0))
write("idx", "images-gzip", bytes([1]) + gzip.compress(images_idx, mtime=0))

# --- the user's own data: byte 0 = 0 safetensors, 1 npz, 2 csv ---
def safetensors(tensors, metadata=None):
    head, body = {}, b""
    for name, (dtype, shape, data) in tensors.items():
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    if metadata:
        head["__metadata__"] = metadata
    text = json.dumps(head).encode()
    return struct.pack("<Q", len(text)) + text + body

write("data-files", "safetensors", bytes([0]) + safetensors({"images": ("U8", [4, 2], bytes(range(8))), "labels": ("U8", [4], bytes([0, 1, 0, 1]))}))
def npy(descr, shape, data):
    text = ("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))).encode()
    text = text.ljust(118, b" ") + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data
for method, name in [(zipfile.ZIP_STORED, "npz-stored"), (zipfile.ZIP_DEFLATED, "npz-deflated")]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for member, data in [("x_train.npy", npy("|u1", [4, 2], bytes(range(8)))), ("y_train.npy", npy("<i8", [4], struct.pack("<4q", 0, 1, 0, 1)))]:
            info = zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, data)
    write("data-files", name, bytes([1]) + buffer.getvalue())
write("data-files", "csv", bytes([2]) + b"label,a,b\n0,1,2\n1,3.5,4\n0,-1e3,0\n1,7,8\n")

# --- a checkpoint (without its CRC, which the harness appends), a model and certificates from dptrain ---
dptrain = shutil.which("dptrain") or os.path.join(root, ".build", "debug", "dptrain")
with tempfile.TemporaryDirectory() as scratch:
    rows = "".join(f"{i % 2},{i},{i * 2},3\n" for i in range(20))
    with open(os.path.join(scratch, "data.csv"), "w") as f:
        f.write("label,a,b,c\n" + rows)
    subprocess.run([dptrain, "train", "--data", "data.csv", "--test-fraction", "0.25", "--hidden", "2", "--epochs", "1",
                    "--batch", "5", "--save", "model.safetensors", "--checkpoint", "checkpoints"],
                   cwd=scratch, check=True, stdout=subprocess.DEVNULL)
    # A CURVE certificate pair, as `dptrain keygen` (zcert's format) writes it.
    subprocess.run([dptrain, "keygen", "alice", "--dir", scratch], check=True, stdout=subprocess.DEVNULL)
    for name, file in [("public", "alice.key"), ("secret", "alice.key_secret")]:
        with open(os.path.join(scratch, file), "rb") as f:
            write("certificate", name, f.read())
    with open(os.path.join(scratch, "model.safetensors"), "rb") as f:
        write("model-file", "dptrain", f.read())
    newest = sorted(os.listdir(os.path.join(scratch, "checkpoints")))[-1]
    with open(os.path.join(scratch, "checkpoints", newest), "rb") as f:
        write("checkpoint", "after-one-epoch", f.read()[:-4])
write("model-file", "pytorch-sequential", safetensors({
    "0.weight": ("F32", [2, 3], struct.pack("<6f", *range(6))), "0.bias": ("F32", [2], struct.pack("<2f", 0, 1)),
    "2.weight": ("F32", [2, 2], struct.pack("<4f", *range(4))), "2.bias": ("F32", [2], struct.pack("<2f", 1, 0))}))
print("wrote", sum(len(files) for _, _, files in os.walk(corpus)), "seeds under", os.path.relpath(corpus, root))
