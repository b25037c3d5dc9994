"""A sample-quality figure without downloads: the Fréchet distance in a feature space the run trains.

FID (Heusel et al. 2017) compares Gaussian fits of Inception-v3 features of generated and real
images; Inception's weights cannot be downloaded here, so the run trains its own feature
extractor: a small CNN classifier (four 3x3 conv-BN-ReLU stages of 32/64/128/128 channels, max
pooling between, global average pooling) trained with cross-entropy on the training images in
[-1, 1] with flips. Its 128 pooled features are the space; ``frechet_distance`` is
``|mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))``. The figure compares the models of one run
(same extractor, same number of samples, same held-out reference images); its floor is the
distance between as many real training images and the held-out ones (``real_frechet_distance``).
The extractor is cached in ``OUT/quality`` with a fingerprint of everything that shaped it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURE_DIM = 128


class FeatureExtractor(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        layers, channels = [], in_channels
        for index, width in enumerate((32, 64, 128, FEATURE_DIM)):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if index < 3:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            channels = width
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def train_extractor(data, epochs: int, seed: int, batch_size: int, cache_dir: Path, fingerprint: str,
                    progress=None, device=None) -> tuple[FeatureExtractor, float]:
    """The cached extractor when its fingerprint matches, else trained now; (model, held-out accuracy)."""
    from edgemem.distill.checkpoint import atomic_save, atomic_write_text, read_checkpoint
    from edgemem.distill.denoise.data import steps_per_epoch, train_batches

    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    model = FeatureExtractor(data.x_train.shape[1], data.num_classes)
    weights, meta = Path(cache_dir) / "extractor.pt", Path(cache_dir) / "extractor.json"
    info = _read_json(meta)
    if weights.is_file() and info.get("fingerprint") == fingerprint:
        model.load_state_dict(read_checkpoint(weights))
        return model.eval(), float(info["accuracy"])
    model.to(device)
    steps = steps_per_epoch(data, batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=epochs * steps)
    if progress is not None:
        progress.phase("feature extractor (quality figure)", epochs, steps)
    try:
        for epoch in range(epochs):
            model.train()
            for x, y, _ in train_batches(data, batch_size, seed + 1, epoch):
                loss = F.cross_entropy(model(x.to(device)), y.to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                if progress is not None:
                    progress.step(epoch + 1, float(loss.detach()))
    finally:
        if progress is not None:
            progress.phase_end()
    model.cpu().eval()
    accuracy = classify_accuracy(model, data.x_test, data.y_test)
    atomic_save(model.state_dict(), weights)
    atomic_write_text(json.dumps({"fingerprint": fingerprint, "accuracy": accuracy, "epochs": epochs}), meta)
    return model, accuracy


@torch.no_grad()
def classify_accuracy(model: FeatureExtractor, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    correct = sum(int((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum())
                  for i in range(0, len(images), batch_size))
    return correct / max(len(images), 1)


@torch.no_grad()
def features(model: FeatureExtractor, images: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    model.eval()
    return np.concatenate([model.features(images[i:i + batch_size]).double().numpy()
                           for i in range(0, len(images), batch_size)])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (rows = samples)."""
    import warnings

    from scipy import linalg

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # fewer samples than features: singular covariances, regularised below
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():  # near-singular product: regularise as the FID reference does
            offset = np.eye(len(cov_a)) * 1e-6
            root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
