"""Real-world-shaped CNNs and transformers for benchmarks/fidelity.py, built in code (no download).

Each entry builds a torch module and names the batch-1 input it runs at; ``export`` writes it to
ONNX once (opset 17, TorchScript exporter, BatchNorm folded by the exporter in eval mode) into a
cache folder keyed by the model's name and input. Shapes follow the published architectures,
scaled down in width or resolution where a full-size model would take minutes per compile on a
two-core machine; what is kept is the structure that decides memory: residual adds, depthwise
convolutions, dense concatenation, parallel inception branches, attention, skip connections of an
encoder-decoder and transposed convolutions.
"""

from __future__ import annotations

import os
from pathlib import Path


def _torch():
    import torch
    from torch import nn

    return torch, nn


def conv_bn_relu(nn, cin, cout, k=3, stride=1, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def densenet_like(growth: int = 16, blocks=(4, 6, 8), num_classes: int = 10):
    """DenseNet-BC: dense blocks (BN-ReLU-1x1-BN-ReLU-3x3, concatenated), transitions with avg-pool."""
    torch, nn = _torch()

    class DenseLayer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                      nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

        def forward(self, x):
            return torch.cat([x, self.body(x)], 1)

    layers, channels = [nn.Conv2d(3, 2 * growth, 3, 1, 1, bias=False)], 2 * growth
    for b, count in enumerate(blocks):
        for _ in range(count):
            layers.append(DenseLayer(channels))
            channels += growth
        if b < len(blocks) - 1:
            layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels // 2, 1, bias=False), nn.AvgPool2d(2)]
            channels //= 2
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


def inception_like(num_classes: int = 10):
    """GoogLeNet-style: stem, inception modules (1x1 | 1x1-3x3 | 1x1-5x5 | pool-1x1, concatenated)."""
    torch, nn = _torch()

    class Inception(nn.Module):
        def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
            super().__init__()
            self.b1 = conv_bn_relu(nn, cin, c1, 1)
            self.b3 = nn.Sequential(conv_bn_relu(nn, cin, c3r, 1), conv_bn_relu(nn, c3r, c3, 3))
            self.b5 = nn.Sequential(conv_bn_relu(nn, cin, c5r, 1), conv_bn_relu(nn, c5r, c5, 5))
            self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn_relu(nn, cin, cp, 1))

        def forward(self, x):
            return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)

    return nn.Sequential(
        conv_bn_relu(nn, 3, 64, 7, 2), nn.MaxPool2d(3, 2, 1), conv_bn_relu(nn, 64, 64, 1), conv_bn_relu(nn, 64, 192, 3),
        nn.MaxPool2d(3, 2, 1), Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64),
        nn.MaxPool2d(3, 2, 1), Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes))


def unet(base: int = 16, depth: int = 4, classes: int = 2):
    """U-Net: double 3x3 conv blocks, max-pool down, ConvTranspose up, skip concatenation."""
    torch, nn = _torch()

    def double(cin, cout):
        return nn.Sequential(conv_bn_relu(nn, cin, cout), conv_bn_relu(nn, cout, cout))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [base * 2 ** i for i in range(depth + 1)]
            self.down = nn.ModuleList([double(3, widths[0])] + [double(widths[i], widths[i + 1]) for i in range(depth)])
            self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, 2) for i in reversed(range(depth))])
            self.merge = nn.ModuleList([double(2 * widths[i], widths[i]) for i in reversed(range(depth))])
            self.head = nn.Conv2d(widths[0], classes, 1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else self.pool(x))
                skips.append(x)
            skips.pop()
            for up, merge in zip(self.up, self.merge):
                x = merge(torch.cat([skips.pop(), up(x)], 1))
            return self.head(x)

    return UNet()


def efficientnet_like(num_classes: int = 10):
    """MBConv blocks with squeeze-and-excitation (sigmoid gating) and SiLU, as in EfficientNet-B0."""
    torch, nn = _torch()

    class MBConv(nn.Module):
        def __init__(self, cin, cout, expand, k, stride):
            super().__init__()
            mid = cin * expand
            self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU()) if expand > 1 else nn.Identity()
            self.dw = nn.Sequential(nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.SiLU())
            self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, max(1, cin // 4), 1), nn.SiLU(),
                                    nn.Conv2d(max(1, cin // 4), mid, 1), nn.Sigmoid())
            self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            h = self.dw(self.expand(x))
            h = self.project(h * self.se(h))
            return x + h if self.residual else h

    layers, cin = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.SiLU()], 32
    for expand, cout, repeats, stride, k in [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 1, 1, 5)]:
        for r in range(repeats):
            layers.append(MBConv(cin, cout, expand, k, stride if r == 0 else 1))
            cin = cout
    layers += [nn.Conv2d(cin, 320, 1, bias=False), nn.BatchNorm2d(320), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(320, num_classes)]
    return nn.Sequential(*layers)


def vit_small(image: int = 64, patch: int = 8, dim: int = 192, depth: int = 6, heads: int = 3, num_classes: int = 10):
    """ViT: patch embedding by a strided conv, class token, pre-norm encoder blocks (MHA + MLP)."""
    torch, nn = _torch()

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            attn = (q @ k.transpose(-2, -1) * (dim // heads) ** -0.5).softmax(-1)
            x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, dim))
            return x + self.mlp(self.norm2(x))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, patch, patch)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, num_classes)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    return ViT()


def bert_tiny(tokens: int = 128, dim: int = 128, depth: int = 2, heads: int = 2, vocab: int = 1000):
    """A BERT-style text encoder over integer token ids (Gather embedding, post-norm blocks, GELU MLP)."""
    torch, nn = _torch()

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = self.qkv(x).reshape(b, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            attn = (q @ k.transpose(-2, -1) * (dim // heads) ** -0.5).softmax(-1)
            x = self.norm1(x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, dim)))
            return self.norm2(x + self.mlp(x))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.pos = nn.Parameter(torch.zeros(1, tokens, dim))
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.head = nn.Linear(dim, 2)

        def forward(self, ids):
            return self.head(self.blocks(self.embed(ids) + self.pos)[:, 0])

    return Encoder()


def zoo(name: str):
    from edgemem.distill.zoo import build_model

    return build_model(name)


# name -> (factory, input shape, input dtype)
MODELS = {
    "resnet20-cifar": (lambda: zoo("resnet20"), (1, 3, 32, 32), "float32"),
    "wrn-16-2": (lambda: zoo("wrn-16-2"), (1, 3, 32, 32), "float32"),
    "vgg11-cifar": (lambda: zoo("vgg11"), (1, 3, 32, 32), "float32"),
    "mobilenetv2-cifar": (lambda: zoo("mobilenetv2-cifar"), (1, 3, 32, 32), "float32"),
    "vit-tiny-cifar": (lambda: zoo("vit-tiny"), (1, 3, 32, 32), "float32"),
    "resnet-mini": (lambda: zoo("resnet-mini"), (1, 1, 8, 8), "float32"),
    "resnet1d": (lambda: zoo("resnet1d"), (1, 1, 40), "float32"),
    "resnet18-224": (lambda: zoo("resnet18"), (1, 3, 224, 224), "float32"),
    "mobilenetv2-224": (lambda: zoo("mobilenetv2"), (1, 3, 224, 224), "float32"),
    "resnet50-160": (lambda: zoo("resnet50"), (1, 3, 160, 160), "float32"),
    "densenet-like-64": (densenet_like, (1, 3, 64, 64), "float32"),
    "inception-like-160": (inception_like, (1, 3, 160, 160), "float32"),
    "efficientnet-like-160": (efficientnet_like, (1, 3, 160, 160), "float32"),
    "vit-small-64": (vit_small, (1, 3, 64, 64), "float32"),
    "unet-128": (unet, (1, 3, 128, 128), "float32"),
    "bert-tiny-128": (bert_tiny, (1, 128), "int64"),
}


EXPORT_VERSION = 1  # bump when a model definition changes (the cache is keyed by it)


def cache_dir() -> Path:
    root = Path(os.environ.get("EDGEMEM_CACHE", Path.home() / ".cache" / "edgemem")).expanduser()
    return root / "fidelity-models"


def export(name: str, folder: Path | None = None) -> Path:
    """The ONNX file for ``name`` (exported once; the cache is keyed by name, shape and EXPORT_VERSION)."""
    import hashlib

    factory, shape, dtype = MODELS[name]
    digest = hashlib.sha256(repr((name, shape, dtype, EXPORT_VERSION)).encode()).hexdigest()[:12]
    path = (folder or cache_dir()) / f"{name}-{digest}.onnx"
    if path.exists():
        return path
    torch, _ = _torch()
    torch.manual_seed(0)
    model = factory().eval()
    example = torch.zeros(shape, dtype=torch.int64) if dtype == "int64" else torch.randn(shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (example,), str(tmp), opset_version=17, input_names=["input"], output_names=["output"],
                          dynamo=False, do_constant_folding=True)
    os.replace(tmp, path)
    return path
