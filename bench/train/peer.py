"""PyTorch peer for bench/train: the DESIGN.md CNN (4 blocks conv3x3 no-bias -> BN -> maxpool2 -> ReLU,
channels width*2^i, global average pool, linear), one training step = forward + backward + AdamW,
on random data. Prints one JSON line: {"imagesPerSecond": ..., "threads": ..., "size": ...}.

Usage: /usr/bin/python3 bench/train/peer.py --size 64 --threads 2 --batch 32 [--infer]
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def cnn(width: int, depth: int, classes: int) -> nn.Module:
    layers, c = [], 1
    for i in range(depth):
        o = width * 2 ** i
        layers += [nn.Conv2d(c, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.MaxPool2d(2), nn.ReLU()]
        c = o
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--width', type=int, default=16)
    p.add_argument('--seconds', type=float, default=4.0)
    p.add_argument('--infer', action='store_true', help='inference throughput (eval, no_grad) instead of training')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = cnn(a.width, 4, 2)
    x = torch.randn(a.batch, 1, a.size, a.size)
    y = torch.randint(0, 2, (a.batch,))
    if a.infer:
        model.eval()
        step = lambda: model(x)
        ctx = torch.no_grad()
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        ctx = torch.enable_grad()
    with ctx:
        for _ in range(3):
            step()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < a.seconds:
            step()
            n += 1
        dt = time.perf_counter() - t0
    print(json.dumps({'imagesPerSecond': n * a.batch / dt, 'threads': a.threads, 'size': a.size, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
