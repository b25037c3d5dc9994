"""Losses against closed-form values worked out by hand (see each test's comment)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from edgemem.distill import losses
from edgemem.distill.losses import LOSSES, LossInputs, combined_loss


def test_cross_entropy_of_uniform_logits_is_log_classes():
    logits = torch.zeros(3, 5)
    assert losses.cross_entropy(logits, torch.tensor([0, 1, 4])).item() == pytest.approx(math.log(5))


def test_kd_closed_form_at_t1():
    # teacher softmax [3/4, 1/4], student [1/2, 1/2]: KL = 3/4 ln(3/2) + 1/4 ln(1/2)
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert losses.kd(student, teacher, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_kd_scales_by_t_squared_and_uses_batchmean():
    # at T = 2 the teacher softmax is [sqrt3, 1] / (sqrt3 + 1); the loss is T^2 * KL per example,
    # averaged over the batch: a second, identical-logit example contributes 0 and halves it.
    student = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0], [1.0, 2.0]])
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    kl = p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5)
    assert losses.kd(student, teacher, 2.0).item() == pytest.approx(4 * kl / 2, rel=1e-6)


def test_kd_equals_moonshine_elementwise_mean_times_classes():
    # Moonshine/OD: F.kl_div(..., reduction="mean") (element-wise) = batchmean / num_classes
    torch.manual_seed(0)
    s, t = torch.randn(6, 10), torch.randn(6, 10)
    moonshine = F.kl_div(F.log_softmax(s / 4, 1), F.softmax(t / 4, 1), reduction="sum") / s.numel() * 16
    assert losses.kd(s, t, 4.0).item() == pytest.approx(moonshine.item() * 10, rel=1e-5)


def test_attention_map_is_l2_normalised_mean_of_squares():
    # two channels [[1, 0], [0, 0]] and [[1, 0], [0, 2]]: mean of squares [1, 0, 0, 2], norm sqrt5
    f = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 2.0]]]])
    expected = torch.tensor([[1.0, 0.0, 0.0, 2.0]]) / math.sqrt(5)
    assert torch.allclose(losses.attention_map(f), expected)


def test_attention_transfer_closed_form_with_position_normalisation():
    # student map uniform -> [1/2]*4; teacher one-hot -> [1, 0, 0, 0]; squared diffs [1/4]*4 -> mean 1/4.
    # Normalised by positions: (4 / 1024) * 1/4 = 1/1024; with reference 4 it is 1/4 (Moonshine's at_loss).
    student = torch.ones(1, 3, 2, 2)
    teacher = torch.zeros(1, 5, 2, 2)
    teacher[0, :, 0, 0] = 2.0
    assert losses.attention_transfer(student, teacher).item() == pytest.approx(1 / 1024)
    assert losses.attention_transfer(student, teacher, reference_positions=4).item() == pytest.approx(0.25)


def test_attention_transfer_is_invariant_to_resolution():
    # nearest 2x upsampling halves every normalised map value and quadruples the positions:
    # mean squared difference / 4, times 4x the positions: the normalised term is unchanged.
    torch.manual_seed(1)
    s, t = torch.randn(2, 4, 3, 3), torch.randn(2, 6, 3, 3)
    up = lambda x: F.interpolate(x, scale_factor=2, mode="nearest")  # noqa: E731
    assert losses.attention_transfer(up(s), up(t)).item() == pytest.approx(losses.attention_transfer(s, t).item(), rel=1e-5)


def test_attention_transfer_refuses_a_student_larger_than_its_teacher():
    with pytest.raises(ValueError, match="the student's times an integer"):
        losses.attention_transfer(torch.ones(1, 2, 4, 4), torch.ones(1, 2, 2, 2))
    with pytest.raises(ValueError, match="the student's times an integer"):
        losses.hint(torch.ones(1, 2, 3, 3), torch.ones(1, 2, 4, 4))


def test_teacher_maps_are_pooled_to_the_student_resolution():
    # a teacher at twice the resolution that is the nearest upsampling of t pools back to t exactly
    torch.manual_seed(2)
    s, t = torch.randn(2, 4, 3, 3), torch.randn(2, 6, 3, 3)
    up = F.interpolate(t, scale_factor=2, mode="nearest")
    assert losses.attention_transfer(s, up).item() == pytest.approx(losses.attention_transfer(s, t).item(), rel=1e-5)
    same = torch.randn(2, 6, 3, 3)
    assert losses.hint(same, F.interpolate(same, scale_factor=2, mode="nearest")).item() == pytest.approx(0.0, abs=1e-12)
    assert losses.hint(torch.zeros(1, 1, 2), torch.ones(1, 1, 8)).item() == pytest.approx(1.0)  # 1-D features too


def test_label_smoothing_enters_the_ce_term():
    logits, y = torch.tensor([[4.0, 0.0]]), torch.tensor([0])
    plain, _ = combined_loss(LossInputs(logits, y), {"ce_weight": 1.0})
    smooth, _ = combined_loss(LossInputs(logits, y), {"ce_weight": 1.0, "label_smoothing": 0.2})
    expected = F.cross_entropy(logits, y, label_smoothing=0.2)
    assert smooth.item() == pytest.approx(expected.item()) and smooth.item() > plain.item()


def test_red_is_cosine_distance_of_channel_mean_maps():
    # student channel mean [1, 0]; teacher [0, 1] -> cos 0 -> 1; teacher [1, 1] -> 1 - 1/sqrt2
    student = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])  # 1 x 2 channels x 2 positions (1-D)
    orthogonal = torch.tensor([[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])  # 3 channels: count does not matter
    diagonal = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]])
    assert losses.red(student, orthogonal).item() == pytest.approx(1.0)
    assert losses.red(student, diagonal).item() == pytest.approx(1 - 1 / math.sqrt(2))
    batch = losses.red(torch.cat([student, student]), torch.cat([orthogonal, diagonal[:, :3]]))
    assert batch.item() == pytest.approx((1.0 + 1 - 1 / math.sqrt(2)) / 2)


def test_red_ignores_feature_scale():
    torch.manual_seed(2)
    s, t = torch.randn(3, 4, 5, 5), torch.randn(3, 8, 5, 5)
    assert losses.red(7.0 * s, t).item() == pytest.approx(losses.red(s, t).item(), rel=1e-5)
    assert losses.red(t, t).item() == pytest.approx(0.0, abs=1e-6)


def test_hint_is_mse_after_the_regressor():
    s = torch.full((1, 2, 2, 2), 1.0)
    t = torch.full((1, 3, 2, 2), 3.0)
    regressor = torch.nn.Conv2d(2, 3, 1, bias=False)
    torch.nn.init.constant_(regressor.weight, 0.5)  # each output = 0.5 + 0.5 = 1 -> error 2 -> MSE 4
    assert losses.hint(s, t, regressor).item() == pytest.approx(4.0)
    assert losses.hint(t, t).item() == 0.0


def test_mutual_sums_kd_of_every_branch_against_the_ensemble():
    ensemble = torch.tensor([[math.log(3.0), 0.0]])
    branches = [torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])]
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # second branch equals the ensemble: 0
    assert losses.mutual(branches, ensemble, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_mutual_gradient_reaches_both_sides():
    ensemble = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
    branch = torch.tensor([[0.0, 0.5, 0.0]], requires_grad=True)
    losses.mutual([branch], ensemble, 4.0).backward()
    assert ensemble.grad.abs().sum() > 0 and branch.grad.abs().sum() > 0


def test_online_ce_term_covers_ensemble_and_every_branch():
    y = torch.tensor([0])
    inputs = LossInputs(torch.zeros(1, 4), y, peer_logits=[torch.zeros(1, 4), torch.zeros(1, 4)])
    total, parts = combined_loss(inputs, {"ce_weight": 1.0})
    assert total.item() == pytest.approx(3 * math.log(4))
    assert parts == {"ce": pytest.approx(3 * math.log(4))}


def test_combined_loss_weights_every_active_term_by_name():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    fs, ft = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    ft[0, :, 0, 0] = 1.0
    inputs = LossInputs(student, torch.tensor([0]), teacher, [fs], [ft])
    weights = {"ce_weight": 0.1, "kd_weight": 0.9, "temperature": 1.0, "at_weight": 1024.0,
               "at_reference_positions": 1024, "red_weight": 2.0, "hint_weight": 0.0, "mutual_weight": 0.0}
    total, parts = combined_loss(inputs, weights)
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    red = 1 - 0.5  # channel-mean maps [1,1,1,1] and [1,0,0,0]: cos = 1/2
    expected = {"ce": 0.1 * math.log(2), "kd": 0.9 * kl, "at": 1024 * (4 / 1024) * 0.25, "red": 2.0 * red}
    assert parts == {k: pytest.approx(v, rel=1e-6) for k, v in expected.items()}
    assert total.item() == pytest.approx(sum(expected.values()), rel=1e-6)


def test_every_table_entry_names_a_weight_and_zero_weights_are_skipped():
    assert {key for key, _ in LOSSES.values()} == {"ce_weight", "kd_weight", "at_weight", "hint_weight", "red_weight", "mutual_weight"}
    assert losses.active_terms({"ce_weight": 1.0, "kd_weight": 0.0}) == ["ce"]
    with pytest.raises(ValueError, match="every loss weight is zero"):
        combined_loss(LossInputs(torch.zeros(1, 2), torch.tensor([0])), {"ce_weight": 0.0})


def test_terms_that_lack_their_inputs_say_so():
    inputs = LossInputs(torch.zeros(1, 2), torch.tensor([0]))
    with pytest.raises(ValueError, match="teacher logits"):
        combined_loss(inputs, {"kd_weight": 1.0, "temperature": 4.0})
    with pytest.raises(ValueError, match="feature pairs"):
        combined_loss(inputs, {"red_weight": 1.0})
