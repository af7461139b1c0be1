"""Independent float64 numpy reference for radml's engine tests.

Reads a JSON job on stdin: a layer graph (radml's JSON form), parameters, inputs, a loss spec and
which gradient entries to check; writes JSON with the float64 forward (logits, loss) and central
finite-difference gradients at the requested entries. Also runs optimizer references.
Nothing here is shared with the TypeScript implementation.
"""
import json
import sys

import numpy as np


def conv2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (h + 2 * pad - k) // stride + 1
    wo = (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            out += np.einsum('nchw,oc->nohw', patch, w[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def pool(x, k, s, p, kind):
    n, c, h, w = x.shape
    fill = -np.inf if kind == 'max' else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    ho = (h + 2 * p - k) // s + 1
    wo = (w + 2 * p - k) // s + 1
    out = np.empty((n, c, ho, wo))
    for a in range(ho):
        for bb in range(wo):
            win = xp[:, :, a * s:a * s + k, bb * s:bb * s + k]
            out[:, :, a, bb] = win.max(axis=(2, 3)) if kind == 'max' else win.sum(axis=(2, 3)) / (k * k)
    return out


def forward(graph, params, buffers, x, mode, masks):
    vals = {'input': x}
    stats = {}
    for nd in graph['nodes']:
        op, name = nd['op'], nd['name']
        a = vals[nd['inputs'][0]]
        if op == 'conv2d':
            y = conv2d(a, params[name + '.weight'], params.get(name + '.bias'), nd['stride'], nd['padding'])
        elif op == 'batchnorm2d':
            g = params[name + '.weight'][None, :, None, None]
            be = params[name + '.bias'][None, :, None, None]
            if mode == 'train':
                mu = a.mean(axis=(0, 2, 3))
                var = ((a - mu[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
                stats[name] = (mu, var)
            else:
                mu, var = buffers[name + '.running_mean'], buffers[name + '.running_var']
            y = (a - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + nd['eps']) * g + be
        elif op == 'relu':
            y = np.maximum(a, 0)
        elif op == 'leaky_relu':
            y = np.where(a > 0, a, a * nd['alpha'])
        elif op == 'silu':
            y = a / (1 + np.exp(-a))
        elif op == 'maxpool2d':
            y = pool(a, nd['kernel'], nd['stride'], nd['padding'], 'max')
        elif op == 'avgpool2d':
            y = pool(a, nd['kernel'], nd['stride'], nd['padding'], 'avg')
        elif op == 'global_avg_pool':
            y = a.mean(axis=(2, 3))
        elif op == 'dropout':
            y = a * masks[name] if (mode == 'train' and name in masks) else a
        elif op == 'flatten':
            y = a.reshape(a.shape[0], -1)
        elif op == 'linear':
            y = a @ params[name + '.weight'].T
            if name + '.bias' in params:
                y = y + params[name + '.bias']
        elif op == 'add':
            y = a + vals[nd['inputs'][1]]
        elif op == 'concat':
            y = np.concatenate([vals[i] for i in nd['inputs']], axis=1)
        else:
            raise ValueError(op)
        vals[name] = y
    return vals[graph['output']], stats


def softplus(z):
    return np.logaddexp(0, z)


def loss_value(spec, z, t, mask, w):
    k = z.shape[1]
    eps = spec.get('labelSmoothing', 0) or 0
    gamma = spec.get('focalGamma', 0) or 0
    if spec['kind'] == 'softmax_ce':
        c = np.array(spec['classWeights']) if spec.get('classWeights') else np.ones(k)
        ts = t * (1 - eps) + eps / k
        zs = z - z.max(axis=1, keepdims=True)
        logp = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        per = -(c[None] * ts * (1 - p) ** gamma * logp).sum(axis=1)
        den = max((w * (t * c[None]).sum(axis=1)).sum(), 1e-12)
        return (w * per).sum() / den
    pw = np.array(spec['posWeights']) if spec.get('posWeights') else np.ones(k)
    ts = t * (1 - eps) + eps / 2
    s = 1 / (1 + np.exp(-z))
    ell = pw[None] * ts * (1 - s) ** gamma * softplus(-z) + (1 - ts) * s ** gamma * softplus(z)
    wm = w[:, None] * mask
    return (wm * ell).sum() / max(wm.sum(), 1e-12)


def objective(job, params, x):
    z, stats = forward(job['graph'], params, job['buffers'], x, job['mode'], job['masks'])
    if 'seed' in job:
        return (z * job['seed']).sum(), z, stats
    return loss_value(job['loss'], z, job['target'], job['mask'], job['weight']), z, stats


def arr(v, shape):
    return np.array(v, dtype=np.float64).reshape(shape)


def run_gradients(job):
    g = job['graph']
    n = job['batch']
    shapes = g['shapes']
    k = g['numOutputs']
    job['params'] = {p['name']: arr(p['data'], p['shape']) for p in job['params']}
    job['buffers'] = {p['name']: arr(p['data'], p['shape']) for p in job.get('buffers', [])}
    job['masks'] = {name: arr(v, [n] + shapes[name]) for name, v in job.get('masks', {}).items()}
    x = arr(job['x'], [n] + g['inputShape'])
    if 'seed' in job:
        job['seed'] = arr(job['seed'], [n, k])
    else:
        job['target'] = arr(job['target'], [n, k])
        job['mask'] = arr(job['mask'], [n, k]) if job.get('mask') is not None else np.ones((n, k))
        job['weight'] = arr(job['weight'], [n]) if job.get('weight') is not None else np.ones(n)
    params = job['params']
    h = job.get('h', 1e-6)
    loss, z, stats = objective(job, params, x)
    out = {'loss': float(loss), 'logits': z.ravel().tolist(), 'grads': {}, 'inputGrad': [],
           'batchStats': {name: [m.tolist(), v.tolist()] for name, (m, v) in stats.items()}}
    for name, idxs in job.get('checkParams', {}).items():
        res = []
        for i in idxs:
            p = params[name]
            flat = p.reshape(-1)
            old = flat[i]
            flat[i] = old + h
            lp = objective(job, params, x)[0]
            flat[i] = old - h
            lm = objective(job, params, x)[0]
            flat[i] = old
            res.append((lp - lm) / (2 * h))
        out['grads'][name] = res
    xf = x.reshape(-1)
    for i in job.get('checkInput', []):
        old = xf[i]
        xf[i] = old + h
        lp = objective(job, params, x)[0]
        xf[i] = old - h
        lm = objective(job, params, x)[0]
        xf[i] = old
        out['inputGrad'].append((lp - lm) / (2 * h))
    return out


def run_optimizer(job):
    """Reference optimizers with PyTorch's update formulas, in float64."""
    spec = job['spec']
    p = np.array(job['param'], dtype=np.float64)
    steps = [np.array(gr, dtype=np.float64) for gr in job['grads']]
    lrs = job['lrs']
    kind = spec['kind']
    wd = spec.get('weightDecay', 0) or 0
    buf = None
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    b1, b2, eps = spec.get('beta1', 0.9), spec.get('beta2', 0.999), spec.get('eps', 1e-8)
    for t, (g, lr) in enumerate(zip(steps, lrs), start=1):
        if kind == 'sgd':
            mom = spec.get('momentum', 0) or 0
            d = g + wd * p
            if mom:
                buf = d.copy() if buf is None else mom * buf + d
                d = d + mom * buf if spec.get('nesterov') else buf
            p = p - lr * d
        else:
            if kind == 'adamw':
                p = p * (1 - lr * wd)
                d = g
            else:
                d = g + wd * p
            m = b1 * m + (1 - b1) * d
            v = b2 * v + (1 - b2) * d * d
            mhat = m / (1 - b1 ** t)
            vhat = v / (1 - b2 ** t)
            p = p - lr * mhat / (np.sqrt(vhat) + eps)
    return {'param': p.tolist()}


def run_step(job):
    """Full training step: float64 loss + finite-difference gradient of every parameter, then Adam."""
    g = job['graph']
    job['checkParams'] = {p['name']: list(range(int(np.prod(p['shape'])))) for p in job['params']}
    shapes = {p['name']: p['shape'] for p in job['params']}
    res = run_gradients(job)
    spec = job['optimizer']
    lr = job['lr']
    new = {}
    for name, grad in res['grads'].items():
        o = run_optimizer({'spec': spec, 'param': job['params'][name].reshape(-1).tolist(), 'grads': [grad], 'lrs': [lr]})
        new[name] = o['param']
    res['updated'] = new
    return res


if __name__ == '__main__':
    job = json.load(sys.stdin)
    kind = job.get('task', 'gradients')
    fn = {'gradients': run_gradients, 'optimizer': run_optimizer, 'step': run_step}[kind]
    json.dump(fn(job), sys.stdout)
