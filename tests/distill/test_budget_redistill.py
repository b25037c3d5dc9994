"""ReDistill's published ImageNet peaks (imgs/peak_mem_footprint.py, imgs/figure1.py) against
ReDistill's own formula on our students and against the analyzer's in-place liveness.

MiB here are ReDistill's "MB" (bytes / 1024^2). Numbers pinned as measured; the differences are
explained in docs/distill-students.md.
"""

from __future__ import annotations

import pytest

from edgemem.distill.budget import measure_memory
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.redistill_peak import redistill_resnet_peak
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")
IMAGENET = (1, 3, 224, 224)
MIB = 2 ** 20

# imgs/peak_mem_footprint.py, per-layer lists (conv1, maxpool, then one entry per block)
PUBLISHED = {
    ("resnet18", 1): [3.63671875, 3.828125, 2.296875, 2.296875, 2.296875, 1.53125, 1.1484375, 0.765625, 0.57421875, 0.3828125],
    ("resnet18", 2): [0.765625, 0.3828125, 0.57421875, 0.57421875, 0.57421875, 0.3828125, 0.287109375, 0.19140625, 0.3349609375, 0.2392578125],
    ("resnet50", 1): [3.63671875, 3.828125, 7.65625, 4.59375, 4.59375, 9.1875, 4.9765625, 4.9765625, 4.9765625, 4.59375,
                      2.48828125, 2.48828125, 2.48828125, 2.48828125, 2.48828125, 2.296875, 1.244140625, 1.244140625],
    ("resnet50", 2): [0.765625, 0.3828125, 1.9140625, 1.1484375, 1.1484375, 2.296875, 1.244140625, 1.244140625, 1.244140625, 1.1484375,
                      0.6220703125, 0.6220703125, 0.6220703125, 0.6220703125, 0.6220703125, 1.052734375, 0.669921875, 0.669921875],
}

# analyzer (in-place liveness, stored/greedy orders, fp32, batch 1): peak bytes, measured here
ANALYZER = {
    ("resnet18", StudentSpec()): 4_014_080,  # 3.828 MiB: maxpool input + output, = ReDistill
    ("resnet18", StudentSpec(pool_factor=2, red=False)): 802_816,  # 0.766 MiB: image + conv1 output, = ReDistill
    ("resnet18", StudentSpec(pool_factor=2)): 802_816,  # RED blocks stay below the stem peak
    ("resnet50", StudentSpec()): 7_225_344,  # 6.891 MiB (ReDistill 9.1875): layer1 block input + 2 live maps
    ("resnet50", StudentSpec(pool_factor=2, red=False)): 1_806_336,  # 1.723 MiB (ReDistill 2.297) = teacher / 4
    ("resnet50", StudentSpec(pool_factor=2)): 2_408_448,  # 2.297 MiB: the RED block at layer2.0's 256-channel input
}


@pytest.mark.parametrize("name, k", sorted(PUBLISHED))
def test_redistill_formula_reproduces_the_published_lists(name, k):
    student = derive_student(build_model(name, num_classes=1000), StudentSpec(pool_factor=k), IMAGENET)
    result = redistill_resnet_peak(student.model, IMAGENET)
    assert [b / MIB for _, b in result.layers] == PUBLISHED[(name, k)]
    assert result.peak_bytes / MIB == max(PUBLISHED[(name, k)])


@pytest.mark.parametrize("name, spec, size_mib", [
    ("resnet18", StudentSpec(), 44.63), ("resnet18", StudentSpec(pool_factor=2), 48.72),
    ("resnet50", StudentSpec(), 97.70), ("resnet50", StudentSpec(pool_factor=2), 160.44),
])
def test_red_students_have_the_published_model_sizes(name, spec, size_mib):
    """imgs/figure1.py model size (fp32 state dict): the RED blocks sit where ReDistill puts them."""
    model = derive_student(build_model(name, num_classes=1000), spec, IMAGENET).model
    assert round(sum(v.numel() for v in model.state_dict().values()) * 4 / MIB, 2) == size_mib


@pytest.mark.slow
@pytest.mark.parametrize("name, spec", list(ANALYZER), ids=[f"{n}-{s.label()}" for n, s in ANALYZER])
def test_analyzer_peaks(name, spec):
    student = derive_student(build_model(name, num_classes=1000), spec, IMAGENET)
    assert measure_memory(student.model, IMAGENET).peak_activation_bytes == ANALYZER[(name, spec)]


def test_formula_needs_a_torchvision_resnet():
    with pytest.raises(ConfigError, match="needs conv1 and layer1..layer4"):
        redistill_resnet_peak(build_model("vgg11"), (1, 3, 32, 32))
