"""Online mutual learning with cheap students (Xie et al., arXiv 1909.13063; OD-cheap-convolution).

No pretrained teacher: m copies of the (cheap) student, each freshly initialised, train together
with an ensemble head that plays the teacher. The head concatenates the students' penultimate
features (the input of each student's last ``nn.Linear``), then BatchNorm -> ReLU -> Linear;
the OD code concatenates the last 4-D maps before its GAP, which is the same up to where the
average pooling sits. Loss (weights from the method table, T = 4):

    ce_weight * [CE(z_t) + sum_j CE(z_j)] + mutual_weight * sum_j T^2 KL(softmax(z_t/T) || softmax(z_j/T))

with no detach, so both sides learn from each other. OD's KL is PyTorch's element-wise mean
(batchmean / num_classes): mutual_weight 0.1 equals it on 10 classes. The deployed model is
the branch with the best evaluation accuracy after the last epoch (as OD reports); every
branch's accuracy and the ensemble's are kept in the outcome.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from edgemem.distill.losses import LossInputs, combined_loss
from edgemem.distill.trainers.base import Trainer, accuracy
from edgemem.errors import TrainingError


class OnlineTrainer(Trainer):
    def build(self) -> None:
        job = self.job
        count = job.online_students
        branches = [job.model] + [reinitialised(job.model) for _ in range(count - 1)]
        self.branches = nn.ModuleList(branches)
        self.captured: list[torch.Tensor | None] = [None] * count
        self._hooks = [last_linear(b, job.name).register_forward_pre_hook(self._capture(i)) for i, b in enumerate(branches)]
        with torch.no_grad():
            job.model.eval()
            job.model(job.batches.x_train[:2])
            job.model.train()
        features = self.captured[0].shape[1]
        num_classes = job.batches.dataset.num_classes
        self.head = nn.Sequential(nn.BatchNorm1d(count * features), nn.ReLU(), nn.Linear(count * features, num_classes))
        self.modules = {"branches": self.branches, "head": self.head}
        self._branch_accuracy: list[float] | None = None

    def _capture(self, index: int):
        def hook(module, inputs):
            self.captured[index] = inputs[0].flatten(1)
        return hook

    def step_loss(self, x: torch.Tensor, y: torch.Tensor):
        peers = [branch(x) for branch in self.branches]
        ensemble = self.head(torch.cat(self.captured, dim=1))
        loss, parts = combined_loss(LossInputs(ensemble, y, peer_logits=peers), self.weights)
        self._branch_accuracy = None
        return loss, parts, ensemble

    def evaluate(self) -> float:
        self._branch_accuracy = [accuracy(b, self.job.batches) for b in self.branches]
        return max(self._branch_accuracy)

    def deployable(self) -> nn.Module:
        if self._branch_accuracy is None:
            self.evaluate()
        return self.branches[max(range(len(self.branches)), key=lambda i: self._branch_accuracy[i])]

    def extra(self) -> dict:
        if self._branch_accuracy is None:
            self.evaluate()
        return {"branch_accuracy": list(self._branch_accuracy), "ensemble_accuracy": self._ensemble_accuracy()}

    @torch.no_grad()
    def _ensemble_accuracy(self) -> float:
        for module in self.modules.values():
            module.eval()
        correct = 0
        device = next(self.head.parameters()).device
        for x, y in self.job.batches.eval_batches():
            for branch in self.branches:
                branch(x.to(device))
            correct += int((self.head(torch.cat(self.captured, dim=1)).argmax(1).cpu() == y).sum())
        return correct / len(self.job.batches.y_test)


def last_linear(model: nn.Module, name: str) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TrainingError(f"{name}: the online method needs a student whose classifier is an nn.Linear")
    return linears[-1]


def reinitialised(model: nn.Module) -> nn.Module:
    """A deep copy with every submodule's parameters reset (draws from torch's global RNG)."""
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return clone
