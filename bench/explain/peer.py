"""PyTorch peer for bench/explain: the same radml cnn (conv3x3 no-bias -> BN -> maxpool2 -> ReLU blocks,
GAP, linear) with the same weights; Grad-CAM (forward hook + autograd) and integrated gradients
(50 midpoint steps, batched) in plain torch autograd (captum is not installable here without
replacing Debian's torch: captum 0.9 needs torch>=2.3). Reads a job JSON on stdin, prints timings and maps."""
import json, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

job = json.load(sys.stdin)
torch.set_num_threads(job['threads'])
P = {t['name']: np.array(t['data'], dtype=np.float32).reshape(t['shape']) for t in job['params']}
B = {t['name']: np.array(t['data'], dtype=np.float32).reshape(t['shape']) for t in job['buffers']}
depth = job['depth']

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(); self.bns = nn.ModuleList()
        for i in range(depth):
            w = torch.from_numpy(P[f'block{i}.conv.weight'])
            c = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1, bias=False); c.weight.data = w
            bn = nn.BatchNorm2d(w.shape[0])
            bn.weight.data = torch.from_numpy(P[f'block{i}.bn.weight']); bn.bias.data = torch.from_numpy(P[f'block{i}.bn.bias'])
            bn.running_mean = torch.from_numpy(B[f'block{i}.bn.running_mean']); bn.running_var = torch.from_numpy(B[f'block{i}.bn.running_var'])
            self.convs.append(c); self.bns.append(bn)
        self.fc = nn.Linear(P['head.fc.weight'].shape[1], P['head.fc.weight'].shape[0])
        self.fc.weight.data = torch.from_numpy(P['head.fc.weight']); self.fc.bias.data = torch.from_numpy(P['head.fc.bias'])
    def forward(self, x, keep=None):
        acts = None
        for i in range(depth):
            x = F.relu(F.max_pool2d(self.bns[i](self.convs[i](x)), 2))
            if i == keep: acts = x
        return self.fc(x.mean((2, 3))), acts

net = Net().eval()
x = torch.from_numpy(np.array(job['x'], dtype=np.float32).reshape(job['shape']))
cls = job['cls']
layer = depth - 1

def gradcam(xi):
    logits, a = net(xi, keep=layer)
    g, = torch.autograd.grad(logits[:, cls].sum(), a)
    cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
    return F.interpolate(cam, size=xi.shape[2:], mode='bilinear', align_corners=False)[:, 0]

def ig(xi, steps=50, batch=25):
    base = torch.zeros_like(xi)
    total = torch.zeros_like(xi)
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    for s in range(0, steps, batch):
        a = alphas[s:s + batch].view(-1, 1, 1, 1)
        pts = (base + a * (xi - base)).requires_grad_(True)
        logits, _ = net(pts)
        g, = torch.autograd.grad(logits[:, cls].sum(), pts)
        total += g.sum(0, keepdim=True)
    return ((xi - base) * total / steps).sum(1)

def timeit(fn, reps):
    fn(x[:1])  # warm-up
    t0 = time.perf_counter()
    for r in range(reps):
        out = fn(x[r % x.shape[0]:r % x.shape[0] + 1])
    return (time.perf_counter() - t0) / reps, out

with torch.no_grad():
    logits, _ = net(x[:1])
t_cam, cam = timeit(gradcam, job['reps'])
t_ig, igm = timeit(ig, job['reps_ig'])
print(json.dumps({'torch': torch.__version__, 'logits': logits[0].tolist(), 'gradcam_s': t_cam, 'ig_s': t_ig,
                  'cam': gradcam(x[:1])[0].detach().numpy().ravel().tolist(), 'ig': ig(x[:1])[0].detach().numpy().ravel().tolist()}))
