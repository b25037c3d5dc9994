"""--task denoise: the noise schedule, images in [-1, 1], the trainer (loss terms, resume), the held-out
loss, sampling with progress, PNG grids and the Fréchet distance (real PyTorch on digits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgemem.distill.config import DistillConfig
from edgemem.distill.denoise.data import ImageData, load_images, to_unit_range, train_batches
from edgemem.distill.denoise.evaluate import BAND_EDGES, band_losses, denoising_loss
from edgemem.distill.denoise.options import DenoiseOptions
from edgemem.distill.denoise.quality import FeatureExtractor, features, frechet_distance, train_extractor
from edgemem.distill.denoise.sample import generate, grid_image, save_grid
from edgemem.distill.denoise.schedule import NoiseSchedule
from edgemem.distill.denoise.trainer import METHODS, DenoiseJob, DenoiseTrainer
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo.ddpm import ddpm_unet_tiny
from edgemem.errors import TrainingError


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_images("digits", None, DistillConfig().data)


class Recorder:
    def __init__(self) -> None:
        self.events = []

    def phase(self, name, epochs, steps_per_epoch, start_epoch=0):
        self.events.append(("phase", name, epochs * steps_per_epoch, start_epoch))

    def step(self, epoch, value):
        self.events.append(("step", epoch, value))

    def epoch_end(self, metrics):
        self.events.append(("epoch", metrics.epoch))

    def phase_end(self):
        self.events.append(("end",))

    def note(self, text):
        self.events.append(("note", text))


def test_schedule_noises_and_ddim_inverts_an_oracle():
    schedule = NoiseSchedule()
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.tensor([0, 10, 500, 999])
    x_t = schedule.q_sample(x0, t, noise)
    assert torch.allclose(x_t[0], x0[0], atol=0.05) and torch.allclose(x_t[3], noise[3], atol=0.01)  # t = 999: noise
    assert schedule.timesteps(4) == [999, 666, 333, 0] and schedule.timesteps(5000)[-1] == 0
    x = schedule.q_sample(x0, torch.full((4,), 999), noise)  # the true noise at every step recovers x0 exactly (DDIM)
    steps = schedule.timesteps(10)
    for i, step in enumerate(steps):
        x_prev_t = steps[i + 1] if i + 1 < len(steps) else -1
        eps = (x - schedule.alphas_bar[step].sqrt().float() * x0) / (1 - schedule.alphas_bar[step]).sqrt().float()
        x = schedule.step(x, step, x_prev_t, eps, "ddim")
    assert torch.allclose(x, x0, atol=1e-4)


def test_images_are_mapped_to_unit_range(digits):
    assert digits.x_train.min() == -1 and digits.x_train.max() == 1 and digits.input_shape == (1, 1, 8, 8)
    raw = np.random.default_rng(0).integers(0, 256, (20, 3, 4, 4)).astype(np.float32)
    raw[0], raw[1] = 0, 255
    standardised = (raw - raw.mean()) / raw.std()
    train, _ = to_unit_range(standardised, standardised)
    assert np.allclose(train, 2 * raw / 255 - 1, atol=1e-5)


def test_batches_depend_only_on_seed_and_epoch(digits):
    first = [x for x, _, _ in train_batches(digits, 64, seed=3, epoch=2)]
    again = [x for x, _, _ in train_batches(digits, 64, seed=3, epoch=2)]
    other = [x for x, _, _ in train_batches(digits, 64, seed=3, epoch=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again)) and not torch.equal(first[0], other[0])
    assert len(first) == len(digits.x_train) // 64


def job(data, model, tmp_path, epochs, method="ce", teacher=None, pairs=(), resume=False, progress=None):
    options = DenoiseOptions(lr=2e-3, warmup_steps=5, ema_decay=0.9)
    weights = dict(METHODS[method])
    return DenoiseJob("test", model, data, NoiseSchedule(), options, weights, method, epochs, 64, teacher=teacher,
                      pairs=list(pairs), checkpoint_dir=tmp_path / "checkpoint", resume=resume, fingerprint="f", progress=progress)


def test_training_lowers_the_heldout_loss(one_thread, digits, tmp_path):
    torch.manual_seed(0)
    model = ddpm_unet_tiny(in_channels=1)
    before = denoising_loss(model, NoiseSchedule(), digits.x_test, draws=2)
    trained, training = DenoiseTrainer(job(digits, model, tmp_path, 3)).fit()
    after = denoising_loss(trained, NoiseSchedule(), digits.x_test, draws=2)
    assert after < 0.8 * before and training.steps == 3 * 21 and not trained.training
    assert denoising_loss(trained, NoiseSchedule(), digits.x_test, draws=2) == after  # the same draws every time


def test_band_losses_split_the_heldout_loss_by_timestep(one_thread, digits, tmp_path):
    torch.manual_seed(0)
    fresh = ddpm_unet_tiny(in_channels=1)  # its output layer starts at zero: it predicts zero noise, MSE = E[noise^2]
    bands = band_losses(fresh, NoiseSchedule(), digits.x_test[:200])
    assert len(bands) == len(BAND_EDGES) - 1 and all(0.9 < b < 1.1 for b in bands)
    trained, _ = DenoiseTrainer(job(digits, ddpm_unet_tiny(in_channels=1), tmp_path, 2)).fit()
    again = band_losses(trained, NoiseSchedule(), digits.x_test[:200])
    assert again == band_losses(trained, NoiseSchedule(), digits.x_test[:200])  # the same draws every time
    assert again[-1] < 0.5 < again[0]  # large t (eps ~ x_t) is learnt first; pixel-level noise at small t is the hard part


def test_resume_repeats_the_uninterrupted_run(one_thread, digits, tmp_path):
    torch.manual_seed(0)
    straight, history = DenoiseTrainer(job(digits, ddpm_unet_tiny(in_channels=1), tmp_path / "a", 2)).fit()
    torch.manual_seed(0)
    DenoiseTrainer(job(digits, ddpm_unet_tiny(in_channels=1), tmp_path / "b", 1)).fit()
    torch.manual_seed(0)
    resumed, second = DenoiseTrainer(job(digits, ddpm_unet_tiny(in_channels=1), tmp_path / "b", 2, resume=True)).fit()
    assert second.resumed_from_epoch == 1
    assert [h.train_loss for h in second.history] == [h.train_loss for h in history.history]
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))


def test_resume_refuses_fewer_epochs_than_the_checkpoint_holds(one_thread, digits, tmp_path):
    torch.manual_seed(0)
    DenoiseTrainer(job(digits, ddpm_unet_tiny(in_channels=1), tmp_path, 2)).fit()
    with pytest.raises(TrainingError, match="holds 2 epochs, more than the 1 asked"):
        DenoiseTrainer(job(digits, ddpm_unet_tiny(in_channels=1), tmp_path, 1, resume=True)).fit()


def test_distillation_uses_teacher_noise_and_red_features(one_thread, digits, tmp_path):
    torch.manual_seed(0)
    teacher = ddpm_unet_tiny(in_channels=1).eval()
    student = derive_student(teacher, StudentSpec(pool_factor=2), (1, 1, 8, 8))
    pairs = [(p.student_point, p.teacher_point) for p in student.red_pairs]
    recorder = Recorder()
    _, training = DenoiseTrainer(job(digits, student.model, tmp_path, 1, "red_kd", teacher, pairs, progress=recorder)).fit()
    parts = training.history[0].loss_parts
    assert set(parts) == {"gt", "kd", "red"} and all(v > 0 for v in parts.values())
    assert recorder.events[0] == ("phase", "test", 21, 0) and sum(e[0] == "step" for e in recorder.events) == 21
    with pytest.raises(TrainingError, match="needs RED blocks"):
        DenoiseTrainer(job(digits, student.model, tmp_path, 1, "red", teacher, ()))


def test_sampling_reports_progress_and_draws_a_grid(digits, tmp_path):
    torch.manual_seed(0)
    model = ddpm_unet_tiny(in_channels=1)
    recorder = Recorder()
    images = generate(model, NoiseSchedule(), 5, (1, 8, 8), steps=4, method="ddpm", batch_size=3, progress=recorder)
    assert images.shape == (5, 1, 8, 8) and images.min() >= -1 and images.max() <= 1
    assert recorder.events[0] == ("phase", "sampling", 2 * 4, 0) and sum(e[0] == "step" for e in recorder.events) == 8
    again = generate(model, NoiseSchedule(), 5, (1, 8, 8), steps=4, method="ddpm", batch_size=3)
    assert torch.equal(images, again)  # seeded
    assert grid_image(images, columns=3).shape == (2 * 10 + 2, 3 * 10 + 2, 1)
    path = save_grid(torch.rand(4, 3, 8, 8) * 2 - 1, tmp_path / "grid.png")
    from matplotlib import image as mpimg

    assert mpimg.imread(path).shape[:2] == (2 * 10 + 2, 2 * 10 + 2)


def test_frechet_distance_properties():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert abs(frechet_distance(a, a)) < 1e-6
    shifted = frechet_distance(a, a + np.array([3.0, 0, 0, 0]))
    assert abs(shifted - 9.0) < 1e-6
    assert frechet_distance(a, rng.normal(size=(500, 4)) * 2) > 1.0


def test_feature_extractor_is_trained_once_and_cached(one_thread, digits, tmp_path):
    model, accuracy = train_extractor(digits, 1, 0, 64, tmp_path, "fp")
    assert accuracy > 0.3 and (tmp_path / "extractor.pt").is_file()
    again, same = train_extractor(digits, 1, 0, 64, tmp_path, "fp")
    assert same == accuracy and all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert features(model, digits.x_test[:7]).shape == (7, 128) and isinstance(model, FeatureExtractor)


def test_red_blocks_only_for_methods_with_a_red_term():
    from edgemem.distill.denoise.run import trains_red

    assert trains_red("red") and trains_red("red_kd")
    assert not trains_red("auto") and not trains_red("kd") and not trains_red("ce")
