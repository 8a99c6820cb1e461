#!/usr/bin/env python3
"""The PyTorch side of bench/real: the plain convolutional autoencoder a user would write, on the
same images at the same input size as vigil (decoded by bench/real.ts with vigil's preprocessing
and handed over as raw float32 arrays), in the manner of shared/reference/torch_oneclass.py.

Model: strided conv + LeakyReLU + BatchNorm blocks down to about 8 px, a dense code (latent 32 to
128 by size), mirrored by transposed convolutions; MSE loss, Adam 1e-3 with cosine decay.
Scores: per-image MSE, 1 - SSIM (gaussian 11x11, sigma 1.5), negative log-density of the code
under a Gaussian KDE of the training codes (Scott bandwidth on standardised codes).

Usage: torch_real.py SPEC.json   (written by bench/real.ts; prints one JSON line of AUROCs)
"""
import json, math, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F


def auroc(scores, labels):
    s = np.asarray(scores, dtype=np.float64); y = np.asarray(labels)
    order = np.argsort(s, kind='mergesort'); ranks = np.empty(len(s)); sv = s[order]; i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sv[j + 1] == sv[i]: j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1; i = j + 1
    n1 = int((y == 1).sum()); n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


class AE(nn.Module):
    def __init__(s, c, h, w):
        super().__init__()
        side = min(h, w); blocks = max(2, math.ceil(math.log2(side / 8)))
        f = [min(32 * 2 ** i, 256) for i in range(blocks)]
        latent = 32 if side <= 32 else 64 if side <= 64 else 128
        enc, cin, hs, ws = [], c, [h], [w]
        for k in f:
            enc += [nn.Conv2d(cin, k, 3, 2, 1), nn.LeakyReLU(0.2), nn.BatchNorm2d(k)]; cin = k
            hs.append((hs[-1] + 1) // 2); ws.append((ws[-1] + 1) // 2)
        s.enc = nn.Sequential(*enc); s.shape = (f[-1], hs[-1], ws[-1])
        n = f[-1] * hs[-1] * ws[-1]
        s.fc1, s.fc2 = nn.Linear(n, latent), nn.Linear(latent, n)
        dec = []
        for i in range(blocks - 1, -1, -1):
            o = f[i - 1] if i > 0 else f[0]
            dec += [nn.ConvTranspose2d(f[i], o, 3, 2, 1, output_padding=(hs[i] - (2 * hs[i + 1] - 1), ws[i] - (2 * ws[i + 1] - 1))),
                    nn.LeakyReLU(0.2), nn.BatchNorm2d(o)]
        dec += [nn.ConvTranspose2d(f[0], c, 3, 1, 1), nn.Sigmoid()]
        s.dec = nn.Sequential(*dec)

    def forward(s, x):
        z = s.fc1(s.enc(x).flatten(1))
        return s.dec(s.fc2(z).view(-1, *s.shape)), z


def ssim_map(a, b):
    n = min(11, a.shape[-1], a.shape[-2]); n -= 1 - n % 2
    g = torch.exp(-(torch.arange(n, dtype=torch.float32, device=a.device) - n // 2) ** 2 / 4.5); g = g / g.sum()
    w = (g[:, None] * g[None, :])[None, None].repeat(a.shape[1], 1, 1, 1)
    p = n // 2; a = F.pad(a, (p, p, p, p), mode='reflect'); b = F.pad(b, (p, p, p, p), mode='reflect')
    cv = lambda x: F.conv2d(x, w, groups=a.shape[1])
    ma, mb = cv(a), cv(b); saa = cv(a * a) - ma ** 2; sbb = cv(b * b) - mb ** 2; sab = cv(a * b) - ma * mb
    return ((2 * ma * mb + 1e-4) * (2 * sab + 9e-4)) / ((ma ** 2 + mb ** 2 + 1e-4) * (saa + sbb + 9e-4))


def main():
    spec = json.load(open(sys.argv[1]))
    dev = spec.get('device', 'cpu')
    if dev.startswith('cuda') and not torch.cuda.is_available(): dev = 'cpu'
    torch.manual_seed(spec['seed'])
    c, h, w = spec['shape']
    load = lambda f, n: torch.from_numpy(np.fromfile(f, dtype=np.float32).reshape(n, c, h, w))
    xtr = load(spec['train'], spec['nTrain']); xte = load(spec['test'], spec['nTest'])
    y = np.array(spec['labels'])
    model = AE(c, h, w).to(dev)
    bs, epochs = spec['batchSize'], spec['epochs']
    steps = epochs * math.ceil(len(xtr) / bs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    t0 = time.time(); model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xtr)).split(bs):
            xb = xtr[idx].to(dev)
            loss = F.mse_loss(model(xb)[0], xb)
            opt.zero_grad(); loss.backward(); opt.step()
        sched.step()
    train_s = time.time() - t0
    model.eval()

    def run(x, maps=False):
        out = {'mse': [], 'ssim': [], 'z': [], 'map': []}
        with torch.no_grad():
            for i in range(0, len(x), 64):
                xb = x[i:i + 64].to(dev); r, z = model(xb)
                e = ((r - xb) ** 2).mean(1)
                out['mse'].append(e.flatten(1).mean(1).cpu()); out['z'].append(z.cpu())
                out['ssim'].append((1 - ssim_map(r, xb)).flatten(1).mean(1).cpu())
                if maps: out['map'].append(e.cpu())
        return {k: torch.cat(v) for k, v in out.items() if v}

    tr = run(xtr); te = run(xte, maps=bool(spec.get('masks')))
    mu, sd = tr['z'].mean(0), tr['z'].std(0) + 1e-6
    a, b = (tr['z'] - mu) / sd, (te['z'] - mu) / sd
    bw = len(a) ** (-1.0 / (a.shape[1] + 4))
    density = -torch.logsumexp(-torch.cdist(b.double(), a.double()) ** 2 / (2 * bw * bw), 1)
    res = {'mse': auroc(te['mse'], y), 'ssim': auroc(te['ssim'], y), 'density': auroc(density, y), 'trainSeconds': train_s, 'steps': steps}
    if spec.get('masks'):
        m = np.fromfile(spec['masks'], dtype=np.float32).reshape(-1, h, w)
        keep = np.array(spec['maskKnown'], dtype=bool)
        if keep.any():
            flat = m[keep].reshape(-1) > 0.5; sc = te['map'].numpy()[keep].reshape(-1)
            if flat.any() and not flat.all(): res['pixel'] = auroc(sc, flat.astype(int))
    print(json.dumps(res))


if __name__ == '__main__':
    main()
