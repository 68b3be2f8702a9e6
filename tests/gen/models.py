"""PyTorch twins of clipbench's models and loss (development only).

The module and parameter names are those of core/models/unet.c and
core/models/nested_unet.c, so a clipbench checkpoint loads with
model.load_state_dict() and these models' state_dicts load into clipbench.
"""
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels, groups):
    # clipbench's rule: gcd(request, channels) groups.
    return nn.GroupNorm(math.gcd(groups, channels), channels, eps=1e-5)


def conv_block(cin, cout, groups, bias, conv_name, norm_name):
    """[3x3 conv -> GroupNorm -> ReLU] x 2 with the given name patterns."""
    layers = OrderedDict()
    for r, c_in in ((1, cin), (2, cout)):
        layers[conv_name % r] = nn.Conv2d(c_in, cout, 3, padding=1, bias=bias)
        layers[norm_name % r] = group_norm(cout, groups)
        layers["relu%d" % r] = nn.ReLU()
    return nn.Sequential(layers)


def upsample():
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)


class UNet(nn.Module):
    """encoder{l}.enc{l}conv1.weight, upconv{l}.weight, decoder{l}..., conv."""

    def __init__(self, in_channels=1, classes=9, width=32, depth=4, groups=32,
                 up="transpose", bias=False):
        super().__init__()
        self.depth, self.up_mode = depth, up
        w = [width << l for l in range(depth + 1)]
        for l in range(depth):
            tag = "enc%d" % (l + 1)
            setattr(self, "encoder%d" % (l + 1),
                    conv_block(in_channels if l == 0 else w[l - 1], w[l], groups, bias,
                               tag + "conv%d", tag + "norm%d"))
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = conv_block(w[depth - 1], w[depth], groups, bias,
                                     "bottleneckconv%d", "bottlenecknorm%d")
        for l in reversed(range(depth)):
            if up == "transpose":
                setattr(self, "upconv%d" % (l + 1), nn.ConvTranspose2d(w[l + 1], w[l], 2, stride=2))
                cin = 2 * w[l]
            else:
                cin = w[l + 1] + w[l]
            tag = "dec%d" % (l + 1)
            setattr(self, "decoder%d" % (l + 1),
                    conv_block(cin, w[l], groups, bias, tag + "conv%d", tag + "norm%d"))
        if up != "transpose":
            self.upsample = upsample()
        self.conv = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        skips = []
        for l in range(self.depth):
            x = getattr(self, "encoder%d" % (l + 1))(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for l in reversed(range(self.depth)):
            if self.up_mode == "transpose":
                x = getattr(self, "upconv%d" % (l + 1))(x)
            else:
                x = self.upsample(x)
            x = getattr(self, "decoder%d" % (l + 1))(torch.cat([x, skips[l]], 1))
        return self.conv(x)


class NestedUNet(nn.Module):
    """UNet++ without deep supervision: conv{i}_{j}.conv1.weight, up{i}_{j}, final."""

    def __init__(self, in_channels=1, classes=9, width=32, depth=4, groups=8,
                 up="bilinear", bias=True):
        super().__init__()
        self.depth, self.up_mode = depth, up
        nb = [width << i for i in range(depth + 1)]
        self.pool = nn.MaxPool2d(2)
        if up != "transpose":
            self.upsample = upsample()
        for i in range(depth + 1):
            self._vgg(i, 0, in_channels if i == 0 else nb[i - 1], nb[i], groups, bias)
        for j in range(1, depth + 1):
            for i in range(depth + 1 - j):
                up_ch = nb[i] if up == "transpose" else nb[i + 1]
                if up == "transpose":
                    setattr(self, "up%d_%d" % (i + 1, j - 1),
                            nn.ConvTranspose2d(nb[i + 1], nb[i], 2, stride=2))
                self._vgg(i, j, nb[i] * j + up_ch, nb[i], groups, bias)
        self.final = nn.Conv2d(nb[0], classes, 1)

    def _vgg(self, i, j, cin, cout, groups, bias):
        setattr(self, "conv%d_%d" % (i, j),
                conv_block(cin, cout, groups, bias, "conv%d", "norm%d"))

    def _up(self, x, i, j):
        if self.up_mode == "transpose":
            return getattr(self, "up%d_%d" % (i, j))(x)
        return self.upsample(x)

    def forward(self, x):
        D = self.depth
        X = [[None] * (D + 1) for _ in range(D + 1)]
        for i in range(D + 1):
            src = x if i == 0 else self.pool(X[i - 1][0])
            X[i][0] = getattr(self, "conv%d_0" % i)(src)
            for j in range(1, i + 1):
                r = i - j
                ins = [X[r][k] for k in range(j)] + [self._up(X[r + 1][j - 1], r + 1, j - 1)]
                X[r][j] = getattr(self, "conv%d_%d" % (r, j))(torch.cat(ins, 1))
        return self.final(X[0][D])


def per_image_loss(logits, labels, w_ce=1.0, w_dice=1.0, smooth=1.0):
    """w_ce * mean-over-pixels CE + w_dice * (1 - mean_c soft Dice_c), per image."""
    K = logits.shape[1]
    ce = F.cross_entropy(logits, labels.long(), reduction="none").flatten(1).mean(1)
    p = logits.softmax(1).flatten(2)                                   # N, K, T
    y = F.one_hot(labels.long().flatten(1), K).permute(0, 2, 1).to(p.dtype)
    inter, psum, ysum = (p * y).sum(2), p.sum(2), y.sum(2)
    dice = ((2 * inter + smooth) / (psum + ysum + smooth)).mean(1)
    return w_ce * ce + w_dice * (1 - dice)


def build(cfg):
    """A model from clipbench's JSON model configuration (checkpoint metadata)."""
    kw = dict(in_channels=cfg["in_channels"], classes=cfg["classes"], width=cfg["width"],
              depth=cfg["depth"], groups=cfg["groups"], up=cfg["up"], bias=bool(cfg["bias"]))
    return (UNet if cfg["arch"] == "unet" else NestedUNet)(**kw)
