"""The sample-quality figure of a denoise run: samples, their PNG grid and their Fréchet distance.

The reference set is the held-out images (all of them); every model's ``num_samples`` samples and,
as the floor of the figure, as many real training images are compared with it in the feature
space of the run's own extractor (quality.py, cached in ``OUT/quality``). Samples are cached next
to each model (``samples.pt``) under a key of its weights and the sampling settings, so a resumed
run does not sample twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import torch

from edgemem.distill.denoise.quality import FEATURE_DIM, features, frechet_distance, train_extractor
from edgemem.distill.denoise.result import QualityReference, SampleQuality
from edgemem.distill.denoise.sample import generate, save_grid


def quality_reference(ctx):
    """(extractor, QualityReference, held-out features)."""
    config, opts, data = ctx.config, ctx.options, ctx.data
    fingerprint = hashlib.sha256(repr((config.dataset, config.data_path, dataclasses.asdict(config.data), opts.quality_epochs,
                                       config.seed)).encode()).hexdigest()[:16]
    extractor, accuracy = train_extractor(data, opts.quality_epochs, config.seed, config.train.batch_size,
                                          config.out_dir / "quality", fingerprint, ctx.progress, ctx.device)
    extractor = extractor.cpu().eval()
    real = features(extractor, data.x_test)
    count = min(opts.num_samples, len(data.x_train))
    floor = frechet_distance(features(extractor, data.x_train[:count]), real)
    ctx.note(f"quality figure: Fréchet distance in the features of a classifier trained here "
             f"(held-out accuracy {accuracy:.2%}); {count} real training images score {floor:.2f}")
    return extractor, QualityReference(accuracy, floor, count, FEATURE_DIM), real


def weights_key(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def sample_quality(ctx, role: str, model, extractor, real_features, folder: Path) -> SampleQuality:
    """Sample ``model`` (or reuse its cached samples), draw the grid, score the samples."""
    opts, config = ctx.options, ctx.config
    image_shape = tuple(ctx.data.x_train.shape[1:])
    key = f"{weights_key(model)}-{opts.sampler}-{opts.sample_steps}-{opts.num_samples}-{config.seed}"
    cache = folder / "samples.pt"
    began = time.perf_counter()
    samples = None
    if cache.is_file():
        stored = torch.load(cache, map_location="cpu", weights_only=True)
        samples = stored["samples"] if stored.get("key") == key else None
    if samples is None:
        from edgemem.distill.checkpoint import atomic_save

        samples = generate(model.to(ctx.device), ctx.schedule, opts.num_samples, image_shape, opts.sample_steps, opts.sampler, config.seed,
                           config.train.eval_batch_size, ctx.progress, f"sampling {role} ({opts.sampler}, {opts.sample_steps} steps)",
                           ctx.device)
        model.cpu()
        atomic_save({"key": key, "samples": samples}, cache)
    grid = save_grid(samples[:opts.grid_samples], folder / "samples.png") if opts.grid_samples else None
    distance = frechet_distance(features(extractor, samples), real_features)
    return SampleQuality(len(samples), len(real_features), distance, opts.sampler, opts.sample_steps,
                         str(grid) if grid else None, time.perf_counter() - began)
