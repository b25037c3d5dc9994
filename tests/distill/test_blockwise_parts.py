"""The pieces of parallel blockwise distillation, in one process: block splitting, replacements,
the truncated teacher and the activation cache, per-block training with its checkpoints,
reassembly, sharded batches, the TOML the launcher writes, and the status display."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest
import torch
from torch import nn

from edgemem.distill.blockwise.activations import Cached, OnTheFly, TruncatedTeacher
from edgemem.distill.blockwise.blocks import find_blocks
from edgemem.distill.blockwise.comm import LocalComm, restart_count, under_torchrun
from edgemem.distill.blockwise.finetune import ShardedBatches
from edgemem.distill.blockwise.launch import torchrun_argv, worker_environment
from edgemem.distill.blockwise.options import BlockwiseOptions
from edgemem.distill.blockwise.acceptance import AcceptanceRule, screen
from edgemem.distill.blockwise.reassemble import assemble, decide, reassemble
from edgemem.distill.blockwise.replacements import SeparablePair, build_replacement, parameter_count, smaller_replacements
from edgemem.distill.blockwise.result import CostEstimate
from edgemem.distill.blockwise.store import BlockStore
from edgemem.distill.blockwise.train import BlockJob, train_block
from edgemem.distill.config import DataOptions, DistillConfig, config_from_mapping, write_config
from edgemem.distill.data import load_dataset
from edgemem.distill.data.loader import BatchSource
from edgemem.distill.taps import FeatureTaps
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError, TrainingError

MINI_CONVS = ["conv1", "layers.0.conv1", "layers.0.conv2", "layers.1.conv1", "layers.1.conv2", "layers.2.conv1",
              "layers.2.conv2"]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", options=DataOptions(train_size=200, test_size=100))


@pytest.fixture
def mini(one_thread):
    torch.manual_seed(0)
    return build_model("resnet-mini", in_channels=1).eval()


# ---- blocks ------------------------------------------------------------------------------------

def test_conv_blocks_are_the_dense_kxk_convs_in_execution_order(mini):
    blocks = find_blocks(mini, (1, 1, 8, 8), "conv")
    assert [b.path for b in blocks] == MINI_CONVS  # 1x1 projection shortcuts stay
    assert [b.index for b in blocks] == list(range(7)) and blocks[3].key == "003-layers.1.conv1"
    assert blocks[3].in_shape == (1, 32, 8, 8) and blocks[3].out_shape == (1, 64, 4, 4)


def test_residual_blocks_across_the_zoo(one_thread):
    assert [b.path for b in find_blocks(build_model("resnet20"), (1, 3, 32, 32), "residual")] == \
        [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3)]
    mobile = find_blocks(build_model("mobilenetv2-cifar"), (1, 3, 32, 32), "residual")
    assert mobile and all(b.type_name == "InvertedResidual" for b in mobile)
    assert len(find_blocks(build_model("vgg11"), (1, 3, 32, 32), "conv")) == 8
    with pytest.raises(ConfigError, match="no residual block.*--blocks conv"):
        find_blocks(build_model("vgg11"), (1, 3, 32, 32), "residual")


class Reused(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.stem = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(self.stem(x)))


class TwoInputs(nn.Module):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x, skip):
            return self.conv(x) + skip

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.blocks = nn.ModuleList([self.Block()])

    def forward(self, x):
        x = self.stem(x)
        return self.blocks[0](x, x)


def test_blocks_that_cannot_be_trained_alone_are_one_line_errors():
    with pytest.raises(ConfigError, match="conv runs more than once"):
        find_blocks(Reused(), (1, 1, 8, 8), "conv")
    with pytest.raises(ConfigError, match="blocks.0 does not map one tensor to one tensor"):
        find_blocks(TwoInputs(), (1, 1, 8, 8), "residual")


# ---- replacements ------------------------------------------------------------------------------

@pytest.mark.parametrize("granularity", ["conv", "residual"])
@pytest.mark.parametrize("name", ["separable", "DW", "G(2)", "shift"])
def test_replacements_keep_every_block_shape(mini, granularity, name):
    for block in find_blocks(mini, (1, 1, 8, 8), granularity):
        if name in ("G(2)", "shift") and block.in_shape[1] == 1:
            continue  # one input channel: nothing to group or shift
        module = build_replacement(name, mini, block, final_relu=False, seed=0)
        assert tuple(module(torch.randn(block.in_shape)).shape) == block.out_shape


def test_separable_pair_is_the_papers_block_and_cheaper(mini):
    block = find_blocks(mini, (1, 1, 8, 8), "conv")[-1]
    pair = build_replacement("separable", mini, block, final_relu=True, seed=0)
    assert isinstance(pair, SeparablePair) and pair.depthwise1.groups == 128 and pair.pointwise1.kernel_size == (1, 1)
    assert isinstance(pair.final, nn.ReLU) and (pair(torch.randn(block.in_shape)) >= 0).all()
    assert parameter_count(pair) * 4 < parameter_count(mini.get_submodule(block.path))
    same = build_replacement("separable", mini, block, final_relu=True, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(pair.state_dict().values(), same.state_dict().values()))


def test_one_dimensional_teachers_and_unknown_replacements(one_thread):
    teacher = build_model("resnet1d", in_channels=1)
    for block in find_blocks(teacher, (1, 1, 40), "residual"):
        module = build_replacement("separable", teacher, block, final_relu=True, seed=0)
        assert tuple(module(torch.randn(block.in_shape)).shape) == block.out_shape
    with pytest.raises(ConfigError, match="replacement 'nonsense'.*separable"):
        build_replacement("nonsense", teacher, block, final_relu=False, seed=0)


# ---- teacher activations -----------------------------------------------------------------------

def test_truncated_teacher_gives_the_blocks_input_and_output_and_stops_there(mini):
    x = torch.randn(5, 1, 8, 8)
    with FeatureTaps(mini, ["layers.1:input", "layers.1"]) as taps:
        mini(x)
    ran = []
    mini.fc.register_forward_hook(lambda *args: ran.append(1))
    inputs, outputs = TruncatedTeacher(mini, "layers.1")(x)
    assert torch.equal(inputs, taps.outputs["layers.1:input"]) and torch.equal(outputs, taps.outputs["layers.1"])
    assert ran == []  # nothing after the block ran


def test_cached_pairs_are_the_on_the_fly_pairs(mini, digits, tmp_path):
    batches = BatchSource(digits, 32, "none", seed=3, eval_batch_size=64)
    truncated = TruncatedTeacher(mini, "layers.0")
    cached = Cached(truncated, batches, torch.device("cpu"), tmp_path / "cache")
    cached.prepare()
    assert (tmp_path / "cache" / "complete.json").is_file()
    for (a, b), (c, d) in zip(OnTheFly(truncated, batches, torch.device("cpu")).epoch(1), cached.epoch(1), strict=True):
        assert torch.allclose(a, c, atol=1e-5) and torch.allclose(b, d, atol=1e-5)
    cached.remove()
    assert not (tmp_path / "cache").exists()
    with pytest.raises(TrainingError, match="needs augmentation off"):
        Cached(truncated, BatchSource(digits, 32, "shift"), torch.device("cpu"), tmp_path / "c2")


def test_measured_costs_choose_the_cheaper_source():
    base = dict(key="b", prefix_s=0.01, train_step_s=0.01, write_s=0.002, read_s=0.001, eval_s=0.5, steps=10, epochs=5,
                cache_bytes=10, cache_allowed=True)
    estimate = CostEstimate(**base)
    assert estimate.on_the_fly_s == pytest.approx(10 * 5 * 0.02 + 0.5)
    assert estimate.cache_s == pytest.approx(10 * 0.012 + 10 * 5 * 0.011 + 0.5)
    assert estimate.choose("auto") == "cache" and estimate.cost_s("auto") == estimate.cache_s
    assert estimate.choose("on_the_fly") == "on_the_fly"
    assert CostEstimate(**{**base, "cache_allowed": False}).choose("auto") == "on_the_fly"
    assert CostEstimate(**{**base, "read_s": 1.0}).choose("auto") == "on_the_fly"  # a slow disk loses


# ---- one block's training ----------------------------------------------------------------------

class Interrupt(Exception):
    pass


def _job(mini, digits, store, block, on_epoch=None, mode="on_the_fly", fingerprint="fp"):
    return BlockJob(block, mini, "separable", False, BatchSource(digits, 32, "none", seed=1, eval_batch_size=64),
                    BlockwiseOptions(epochs=3), mode, 1.0, store, fingerprint, seed=7, rank=0,
                    device=torch.device("cpu"), on_epoch=on_epoch)


def test_a_killed_block_continues_from_its_last_epoch_to_the_same_weights(mini, digits, tmp_path):
    block = find_blocks(mini, (1, 1, 8, 8), "conv")[2]
    whole, whole_state = train_block(_job(mini, digits, BlockStore(tmp_path / "a"), block))

    def stop_after_first(epoch, loss):
        if epoch == 1:
            raise Interrupt

    store = BlockStore(tmp_path / "b")
    with pytest.raises(Interrupt):
        train_block(_job(mini, digits, store, block, on_epoch=stop_after_first, mode="cache"))
    assert store.checkpoint(block.key).exists() and not store.is_done(block.key, "fp")
    resumed, state = train_block(_job(mini, digits, store, block))
    assert resumed.resumed_from_epoch == 1 and whole.resumed_from_epoch == 0
    assert resumed.train_loss == pytest.approx(whole.train_loss, rel=1e-5)
    assert all(torch.allclose(state[k], whole_state[k], atol=1e-6) for k in state)
    assert store.is_done(block.key, "fp") and not store.is_done(block.key, "other settings")
    assert not store.checkpoint(block.key).exists() and not store.cache_folder(block.key).exists()
    record = store.load_record(block.key)
    assert record == resumed and record.eval_loss > 0 and 0 <= record.spliced_accuracy <= 1
    assert all(torch.equal(store.load_state(block.key, "fp")[k], state[k]) for k in state)
    with pytest.raises(TrainingError, match="other settings"):
        store.load_state(block.key, "other settings")


# ---- reassembly --------------------------------------------------------------------------------

class Rec:
    """The fields of a BlockRecord the acceptance rule reads."""

    def __init__(self, relative_error=0.1, spliced_accuracy=0.9):
        self.relative_error, self.spliced_accuracy = relative_error, spliced_accuracy

    def decided(self, kept, accuracy, reason):
        return (kept, accuracy, reason)


def test_reassembly_goes_in_reverse_order_and_keeps_while_accuracy_holds(mini):
    blocks = find_blocks(mini, (1, 1, 8, 8), "conv")[-3:]
    replacements = {b.key: build_replacement("separable", mini, b, False, seed=0) for b in blocks}
    drop = {blocks[2].key: 0.01, blocks[1].key: 0.10, blocks[0].key: 0.03}  # accuracy each replacement costs
    seen = []

    def evaluate(model):
        swapped = [b.key for b in blocks if model.get_submodule(b.path) is replacements[b.key]]
        seen.append(swapped)
        return 0.9 - sum(drop[k] for k in swapped)

    rule = AcceptanceRule(max_error=0.5, max_block_drop=0.05, threshold=0.05)
    records = {b.key: Rec() for b in blocks}
    student, decisions, final = reassemble(mini, blocks, replacements, records, evaluate, 0.9, rule)
    assert seen == [[blocks[2].key], [blocks[1].key, blocks[2].key], [blocks[0].key, blocks[2].key]]
    assert {k: d.kept for k, d in decisions.items()} == {blocks[2].key: True, blocks[1].key: False, blocks[0].key: True}
    assert decisions[blocks[1].key].reason == "student -11.0>5.0 pts"
    assert final == pytest.approx(0.86)
    assert student.get_submodule(blocks[1].path) is not replacements[blocks[1].key]
    assert mini.get_submodule(blocks[2].path) is not replacements[blocks[2].key]  # the teacher is untouched
    again = assemble(mini, blocks, [blocks[0].key, blocks[2].key], replacements)
    assert isinstance(again.get_submodule(blocks[0].path), SeparablePair)


def test_acceptance_rule_checks_block_error_and_accuracy_alone_before_splicing(mini):
    rule = AcceptanceRule(max_error=0.3, max_block_drop=0.02, threshold=0.05)
    assert screen(0.2, 0.89, 0.9, rule) is None
    assert screen(0.41, 0.9, 0.9, rule) == "error 0.41>0.3"
    assert screen(float("nan"), 0.9, 0.9, rule) == "error nan>0.3"
    assert screen(0.1, 0.85, 0.9, rule) == "alone -5.0>2.0 pts"
    blocks = find_blocks(mini, (1, 1, 8, 8), "conv")[-2:]
    replacements = {b.key: build_replacement("separable", mini, b, False, seed=0) for b in blocks}
    records = {blocks[0].key: Rec(relative_error=0.9), blocks[1].key: Rec()}
    evaluated = []
    decided, kept, final, failure = decide(mini, blocks, replacements, records, lambda m: evaluated.append(1) or 0.88, 0.9,
                                           rule, "resnet-mini")
    assert len(evaluated) == 1 and kept == [blocks[1].key] and failure is None and final == pytest.approx(0.88)
    assert decided[blocks[0].key] == (False, None, "error 0.9>0.3")


def test_a_reassembly_that_keeps_nothing_says_so(mini):
    blocks = find_blocks(mini, (1, 1, 8, 8), "conv")[-2:]
    replacements = {b.key: build_replacement("separable", mini, b, False, seed=0) for b in blocks}
    records = {b.key: Rec(spliced_accuracy=0.5) for b in blocks}
    rule = AcceptanceRule(max_error=0.5, max_block_drop=0.05, threshold=0.05)
    _, kept, _, failure = decide(mini, blocks, replacements, records, lambda m: 0.9, 0.9, rule, "resnet-mini")
    assert kept == [] and failure.startswith("blockwise kept none of the 2 replacements, so the student would be resnet-mini")
    assert "alone -40.0>5.0 pts" in failure and "\n" not in failure


def test_only_blocks_with_a_smaller_replacement_are_trained(mini):
    blocks = find_blocks(mini, (1, 1, 8, 8), "conv")
    relu = {b.key: False for b in blocks}
    kept, kept_relu, skipped = smaller_replacements("separable", mini, blocks, relu)
    assert [b.path for b in kept] == MINI_CONVS[1:] and [b.index for b in kept] == list(range(6))
    assert set(kept_relu) == {b.key for b in kept}
    assert len(skipped) == 1 and skipped[0].startswith("conv1: separable has") and "the block 288" in skipped[0]
    for block in kept:
        ours = parameter_count(build_replacement("separable", mini, block, False, seed=0))
        assert ours < parameter_count(mini.get_submodule(block.path))


# ---- fine-tune batches, launcher, environment --------------------------------------------------

def test_shards_of_every_global_batch_cover_it_exactly_once(digits):
    source = BatchSource(digits, 64, "shift", seed=2)
    shards = [list(ShardedBatches(source, rank, 2).train_batches(0)) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == source.steps_per_epoch - (1 if len(digits.y_train) % 64 < 4 else 0)
    for (x, y), (x0, y0), (x1, y1) in zip(source.train_batches(0), *shards):
        merged = torch.empty_like(x)
        merged[0::2], merged[1::2] = x0, x1
        assert torch.equal(merged, x) and sorted(torch.cat([y0, y1]).tolist()) == sorted(y.tolist())
    assert ShardedBatches(source, 1, 2).y_test is source.y_test


def test_the_launch_config_reads_back_equal(tmp_path):
    config = config_from_mapping({"method": "blockwise", "teacher": "resnet-mini", "budget": "64KiB", "epochs": 4,
                                  "out": str(tmp_path / "o\"ut"), "workers": 3, "blocks": "residual", "replacement": "G(4)",
                                  "loss": {"kd_weight": 0.5}, "train": {"milestones": [2, 3], "lr": 1e-3},
                                  "data": {"train_size": 100}, "blockwise": {"threshold": 0.1, "finetune": False}})
    path = write_config(config, tmp_path / "launch.toml")
    assert config_from_mapping(tomllib.loads(path.read_text())) == config
    plain = DistillConfig()
    assert config_from_mapping(tomllib.loads(write_config(plain, tmp_path / "plain.toml").read_text())) == plain


def test_torchrun_command_and_worker_environment(tmp_path):
    argv = torchrun_argv(tmp_path / "launch.toml", 4, 2, python="py")
    assert argv[:3] == ["py", "-m", "torch.distributed.run"] and "--standalone" in argv
    assert argv[argv.index("--nproc-per-node") + 1] == "4" and argv[argv.index("--max-restarts") + 1] == "2"
    assert argv[-3:] == ["-m", "edgemem.distill.blockwise.worker", str(tmp_path / "launch.toml")]  # not the CLI
    env = worker_environment(DistillConfig(), {"PYTHONPATH": "/x"}, events=tmp_path / "events.jsonl")
    assert env["OMP_NUM_THREADS"] == "1" and env["EDGEMEM_BLOCKWISE_EVENTS"] == str(tmp_path / "events.jsonl")
    assert env["PYTHONPATH"].split(":")[-1] == "/x"
    assert not under_torchrun({"RANK": "0"})
    assert under_torchrun({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"})
    assert restart_count({"TORCHELASTIC_RESTART_COUNT": "2"}) == 2 and restart_count({}) == 0


def test_rank_zero_progress_replays_in_the_launcher(tmp_path):
    from edgemem.distill.blockwise.events import EventWriter, Follower
    from edgemem.distill.result import EpochMetrics

    calls = []

    class Sink:
        def __getattr__(self, name):
            return lambda *args: calls.append((name, args))

    writer = EventWriter(tmp_path / "events.jsonl")
    with Follower(tmp_path / "events.jsonl", Sink(), interval_s=0.01):
        writer.phase("fine-tune", 2, 5, 0)
        writer.step(1, 0.5)
        writer.epoch_end(EpochMetrics(1, 0.5, 0.8, 0.7, 0.01, 1.0, {"kd": 0.4}))
        writer.blocks_planned(["000-a"], [], (("000-a",),), {"000-a": 1.5})
        writer.note("done")
    names = [name for name, _ in calls]
    assert names == ["phase", "step", "epoch_end", "blocks_planned", "note"]
    assert calls[2][1][0] == EpochMetrics(1, 0.5, 0.8, 0.7, 0.01, 1.0, {"kd": 0.4})
    assert calls[3][1] == (["000-a"], [], [["000-a"]], {"000-a": 1.5})


def test_the_worker_module_reports_a_bad_run_file_in_one_line(tmp_path, capsys):
    from edgemem.distill.blockwise.worker import main

    (tmp_path / "run.toml").write_text("epochs = 'many'")
    assert main([str(tmp_path / "run.toml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "edgemem: error: worker" in err and "expected an integer" in err


def test_local_comm_is_one_worker():
    comm = LocalComm()
    assert (comm.rank, comm.world, comm.all_gather(3), comm.broadcast(4), comm.gather(5)) == (0, 1, [3], 4, [5])
    comm.publish({"rank": 0, "epoch": 2})
    assert comm.reader()() == [{"rank": 0, "epoch": 2}]


@pytest.mark.parametrize("values, message", [
    ({"workers": 0}, "workers must be >= 1"), ({"blocks": "layer"}, "blocks 'layer'"),
    ({"blockwise": {"threshold": 2.0}}, "threshold"), ({"blockwise": {"scheduler": "greedy"}}, "scheduler 'greedy'"),
    ({"blockwise": {"activations": "disk"}}, "activations 'disk'"), ({"blockwise": {"epoch": 3}}, "unknown key 'epoch'"),
])
def test_bad_blockwise_settings_are_config_errors(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping({"method": "blockwise", **values})


def test_records_are_plain_data():
    fields = {f.name for f in dataclasses.fields(CostEstimate)}
    assert {"prefix_s", "train_step_s", "profile_s"} <= fields
