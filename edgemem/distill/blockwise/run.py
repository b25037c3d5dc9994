"""``run_worker(config, progress) -> DistillResult``: this worker's share of one ``edgemem distill
--method blockwise`` run (the result on rank 0, ``None`` on the others; ``entry.py`` decides
whether this process trains or launches torchrun).

1. Data and teacher as in every distill run (``common.prepare_teacher`` on rank 0, which may
   train and cache the teacher; the other workers receive its weights from rank 0).
2. Blocks (``blocks.py``) and their fingerprints; blocks finished by an earlier run (on any
   worker's disk) are reused, never retrained.
3. Costs: the workers measure the remaining blocks between them (``activations.measure_cost``;
   each block's activation source is the cheaper one when ``activations = "auto"``), gather the
   estimates, and the scheduler (``schedule.py``) assigns blocks to workers.
4. Every worker trains its blocks (``train.py``), publishing its status to the rendezvous store;
   rank 0 draws every worker's blocks. The phase ends when the last worker is done.
5. Rank 0 collects every finished block (sent by the workers whose disk has it), reassembles
   (``reassemble.py``) and tells the others which replacements were kept.
6. The student is fine-tuned end to end with KD under DDP on every worker (``finetune.py``).
7. Rank 0 exports ``student.onnx``, checks it under ONNX Runtime, analyzes its memory and writes
   ``report.json`` with the per-block table under ``blockwise``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from dataclasses import replace

from edgemem.distill.blockwise.acceptance import AcceptanceRule
from edgemem.distill.blockwise.activations import measure_cost, measure_machine, measure_prefixes
from edgemem.distill.blockwise.blocks import Block
from edgemem.distill.blockwise.comm import connect, restart_count, watching
from edgemem.distill.blockwise.finetune import ShardedBatches
from edgemem.distill.blockwise.plan import Plan, make_plan
from edgemem.distill.blockwise.reassemble import assemble, decide
from edgemem.distill.blockwise.replacements import build_replacement
from edgemem.distill.blockwise.result import BlockwiseReport, CostEstimate, speedup_of
from edgemem.distill.blockwise.schedule import Assignment, assign, round_robin
from edgemem.distill.blockwise.store import BlockStore
from edgemem.distill.blockwise.train import BlockJob, block_seed, new_replacement, train_block
from edgemem.distill.checkpoint import atomic_save
from edgemem.distill.common import Context, SilentProgress, digest, finish_result, open_run, prepare_teacher, summarize
from edgemem.distill.config import DistillConfig, resolve_weights
from edgemem.distill.export import check_parity, export_onnx
from edgemem.distill.result import DistillResult
from edgemem.distill.teacher import load_teacher
from edgemem.distill.trainers import METHODS
from edgemem.distill.trainers.registry import get_trainer
from edgemem.distill.trainers.base import TrainJob, accuracy, resolve_device
from edgemem.errors import ConfigError, TrainingError

METHOD = "blockwise"


def run_worker(config: DistillConfig, progress=None, comm=None) -> DistillResult | None:
    """Run ``config`` (method blockwise) as one worker; under torchrun every worker calls this."""
    device = resolve_device(config.train.device)
    import torch

    own = comm is None
    comm = comm or connect(device.type == "cuda", config.blockwise.timeout_s)
    threads = torch.get_num_threads()
    try:
        if device.type == "cpu":
            torch.set_num_threads(config.train.threads or 1)  # one thread per worker unless [train] threads says otherwise
        return _run(config, progress if comm.rank == 0 and progress is not None else SilentProgress(), comm, device)
    finally:
        torch.set_num_threads(threads)
        if own:
            comm.close()


def _run(config: DistillConfig, progress, comm, device) -> DistillResult | None:
    started = time.perf_counter()
    ctx = open_run(config, progress)
    progress.note(f"{ctx.dataset.describe()}; {comm.world} worker(s), backend {comm.backend}")
    if comm.backend != "local" and config.blockwise.workers not in (1, comm.world):
        ctx.note(f"--workers {config.blockwise.workers} is ignored under torchrun, which started {comm.world} workers")
    teacher, teacher_training = _teacher(ctx, comm)
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    plan = make_plan(ctx, teacher, device)
    store = BlockStore(config.out_dir / "blockwise")
    done = _finished(plan, store, comm)
    if done:
        progress.note(f"{len(done)} of {len(plan.blocks)} blocks finished by an earlier run: reused, not retrained")
    phase = _train_blocks(ctx, plan, store, comm, teacher, device, done)
    records, states = _collect(plan, store, comm, done)
    if comm.rank == 0:
        records, kept, reassembled = _reassemble(ctx, plan, teacher, records, states)
    else:
        kept, reassembled = None, 0.0
    kept, failure = comm.broadcast(kept)
    if failure:
        raise TrainingError(failure, hint="more block epochs ([blockwise] epochs), or looser [blockwise] max_error / "
                                          "max_block_drop / threshold")
    student, finetune = _finetune(ctx, plan, comm, teacher, states, kept)
    result = None
    if comm.rank == 0:
        report = _report(ctx, plan, comm, records, phase, reassembled, finetune)
        result = _result(ctx, teacher, teacher_training, student, finetune, report, started)
    comm.barrier()
    return result


# ---- teacher and plan ------------------------------------------------------------------------

def _teacher(ctx: Context, comm):
    """Rank 0 prepares the teacher (it may train and cache it) and sends its weights to the others,
    so workers on other machines need neither the teacher cache nor the weights file."""

    teacher = training = None
    if comm.rank == 0:
        teacher, training = prepare_teacher(ctx)
    state = comm.broadcast({k: v.cpu() for k, v in teacher.state_dict().items()} if comm.rank == 0 else None)
    if comm.rank != 0:
        teacher = load_teacher(ctx.config.teacher, ctx.dataset.num_classes, ctx.dataset.in_channels, None)
        teacher.load_state_dict(state)
    return teacher, training


def _finished(plan: Plan, store: BlockStore, comm) -> set[str]:
    """Keys of the blocks finished by an earlier run on any worker's disk."""
    local = [b.key for b in plan.blocks if store.is_done(b.key, plan.fingerprints[b.key])]
    return set().union(*map(set, comm.all_gather(local)))


# ---- the blockwise phase ---------------------------------------------------------------------

@dataclasses.dataclass
class Phase:
    assignment: Assignment
    keys: list[str]  # blocks trained now, in the order the assignment indexes them
    estimates: dict[str, CostEstimate]
    round_robin_makespan_s: float
    profile_time_s: float
    phase_time_s: float
    worker_of: dict[str, int]


def _job(ctx: Context, plan: Plan, store: BlockStore, comm, teacher, device, block: Block, mode: str, estimate: float):
    opts = ctx.config.blockwise
    return BlockJob(block, teacher, opts.replacement, plan.final_relu[block.key], plan.batches, opts, mode, estimate, store,
                    plan.fingerprints[block.key], ctx.config.seed, comm.rank, device)


def _measure(ctx: Context, plan: Plan, store: BlockStore, comm, teacher, device, todo: list[Block]) -> dict[str, CostEstimate]:
    """Every worker measures its share of the remaining blocks; everyone gets all estimates."""
    opts = ctx.config.blockwise
    local = {}
    mine = todo[comm.rank::comm.world]
    began = time.perf_counter()  # the shared probes count toward this worker's first block
    if mine:
        machine = measure_machine(teacher, plan.batches, store.root / "scratch", device, opts.profile_steps)
        prefixes = measure_prefixes(teacher, mine, plan.batches, device)
    for block in mine:
        job = _job(ctx, plan, store, comm, teacher, device, block, "on_the_fly", 0.0)
        estimate = measure_cost(teacher, block, lambda: new_replacement(job), plan.batches, opts.epochs, opts.lr,
                                opts.profile_steps, machine, prefixes[block.key], device)
        local[block.key] = replace(estimate, profile_s=time.perf_counter() - began)
        began = time.perf_counter()
    merged: dict[str, CostEstimate] = {}
    for part in comm.all_gather(local):
        merged.update(part)
    return merged


def _train_blocks(ctx: Context, plan: Plan, store: BlockStore, comm, teacher, device, done: set[str]) -> Phase:

    opts = ctx.config.blockwise
    todo = [b for b in plan.blocks if b.key not in done]
    began = time.perf_counter()
    estimates = _measure(ctx, plan, store, comm, teacher, device, todo) if todo else {}
    profile_time = time.perf_counter() - began
    costs = [estimates[b.key].cost_s(opts.activations) for b in todo]
    assignment = comm.broadcast(assign(opts.scheduler, costs, comm.world))
    keys = [b.key for b in todo]
    mine = [todo[i] for i in assignment.bins[comm.rank]]
    status = {"rank": comm.rank, "host": socket.gethostname(), "queue": [b.key for b in mine], "done": {},
              "block": None, "epoch": 0, "epochs": opts.epochs, "loss": None, "since": time.time()}
    comm.publish(status)
    comm.barrier()
    ctx.progress.blocks_planned([b.key for b in plan.blocks], sorted(done),
                                tuple(tuple(keys[i] for i in items) for items in assignment.bins),
                                {k: e.cost_s(opts.activations) for k, e in estimates.items()})
    watch = watching(comm.reader(), ctx.progress.workers_status) if comm.rank == 0 else contextlib.nullcontext()
    try:
        with watch:
            for block in mine:
                estimate = estimates[block.key]
                mode = estimate.choose(opts.activations)
                status.update(block=block.key, epoch=0, loss=None, since=time.time())
                comm.publish(status)
                job = _job(ctx, plan, store, comm, teacher, device, block, mode, estimate.cost_s(opts.activations))
                job.on_epoch = lambda epoch, loss: (status.update(epoch=epoch, loss=loss), comm.publish(status))
                record, _ = train_block(job)
                status["done"][block.key] = [record.train_loss, record.time_s]
                status.update(block=None)
                comm.publish(status)
            comm.barrier()  # the phase ends when the last worker is done
    finally:
        ctx.progress.blocks_finished()
    worker_of = {keys[i]: w for w, items in enumerate(assignment.bins) for i in items}
    return Phase(assignment, keys, estimates, round_robin(costs, comm.world).makespan, profile_time,
                 time.perf_counter() - began, worker_of)


# ---- collect, reassemble, fine-tune ----------------------------------------------------------

def _collect(plan: Plan, store: BlockStore, comm, done: set[str]):
    """Rank 0 gets every finished block (records and weights) from the workers whose disk holds it."""
    have = comm.broadcast([b.key for b in plan.blocks if store.is_done(b.key, plan.fingerprints[b.key])]
                          if comm.rank == 0 else None)
    missing = [b.key for b in plan.blocks if b.key not in have]
    payload = {k: (store.load_record(k), store.load_state(k, plan.fingerprints[k]))
               for k in missing if store.is_done(k, plan.fingerprints[k])}
    parts = comm.gather(payload)
    if comm.rank != 0:
        return None, None
    for part in parts:
        for key, (record, state) in part.items():
            if not store.is_done(key, plan.fingerprints[key]):
                store.save_done(key, plan.fingerprints[key], state, record)
    records, states = {}, {}
    for block in plan.blocks:
        if not store.is_done(block.key, plan.fingerprints[block.key]):
            raise ConfigError(f"block {block.key} was not finished by any worker")
        records[block.key] = replace(store.load_record(block.key), reused=block.key in done)
        states[block.key] = store.load_state(block.key, plan.fingerprints[block.key])
    return records, states


def _replacements(ctx: Context, plan: Plan, teacher, states: dict | None, keys) -> dict:

    built = {}
    for block in plan.blocks:
        if block.key in keys:
            module = build_replacement(ctx.config.blockwise.replacement, teacher, block, plan.final_relu[block.key],
                                       block_seed(ctx.config.seed, block.index))
            if states is not None:
                module.load_state_dict(states[block.key])
            built[block.key] = module.eval()
    return built


def _reassemble(ctx: Context, plan: Plan, teacher, records: dict, states: dict):
    opts, batches = ctx.config.blockwise, ctx.batches(ctx.config.train)
    teacher_accuracy = accuracy(teacher, batches)
    replacements = _replacements(ctx, plan, teacher, states, set(records))
    rule = AcceptanceRule(opts.max_error, opts.max_block_drop, opts.threshold)
    records, kept, final, failure = decide(teacher, plan.blocks, replacements, records, lambda m: accuracy(m, batches),
                                           teacher_accuracy, rule, ctx.config.teacher)
    ctx.note(f"reassembly kept {len(kept)} of {len(plan.blocks)} replacements (teacher {teacher_accuracy:.2%}, "
             f"student {final:.2%}; rule: block error <= {opts.max_error:g}, alone <= {opts.max_block_drop:.2%}, "
             f"student <= {opts.threshold:.2%} below the teacher)")
    for key in (records if failure else ()):
        ctx.note(f"{key}: dropped, {records[key].reason}")
    return records, (kept, failure), (teacher_accuracy, final)


@dataclasses.dataclass
class Finetune:
    outcome: object | None  # TrainOutcome, None when the fine-tune is off
    time_s: float
    accuracy: float | None


def _finetune(ctx: Context, plan: Plan, comm, teacher, states: dict | None, kept: list[str]):
    """Every worker builds the same student (rank 0 with the trained weights; DDP copies them to the
    others) and fine-tunes it with KD."""

    config = ctx.config
    student = assemble(teacher, plan.blocks, kept, _replacements(ctx, plan, teacher, states, set(kept)))
    for p in student.parameters():
        p.requires_grad_(True)
    if not config.blockwise.finetune:
        return student.cpu().eval(), Finetune(None, 0.0, None)
    began = time.perf_counter()
    weights = resolve_weights(config, METHOD)
    fingerprint = digest({"kept": [plan.fingerprints[k] for k in kept], "train": dataclasses.asdict(config.train),
                           "weights": weights, "workers": comm.world, "seed": config.seed})
    batches = ShardedBatches(ctx.batches(config.train), comm.rank, comm.world)
    job = TrainJob("fine-tune", student, batches, config.train, weights, METHOD, teacher=teacher,
                   checkpoint_dir=config.out_dir / "blockwise" / "finetune" / f"rank-{comm.rank}",
                   resume=config.resume or restart_count() > 0, seed=config.seed, fingerprint=fingerprint,
                   progress=ctx.progress if comm.rank == 0 else None)
    outcome = get_trainer(METHODS[METHOD].trainer)(job).fit()
    return outcome.model, Finetune(outcome, time.perf_counter() - began, outcome.summary.accuracy)


# ---- report ----------------------------------------------------------------------------------

def _report(ctx: Context, plan: Plan, comm, records: dict, phase: Phase, reassembled, finetune: Finetune) -> BlockwiseReport:
    opts = ctx.config.blockwise
    ordered = tuple(records[b.key] for b in plan.blocks)
    trained = [r for r in ordered if not r.reused]
    serial = sum(r.time_s for r in trained) + sum(e.profile_s for e in phase.estimates.values())
    teacher_accuracy, reassembled_accuracy = reassembled
    return BlockwiseReport(
        granularity=opts.blocks, replacement=opts.replacement, workers=comm.world, backend=comm.backend,
        scheduler=opts.scheduler, blocks=ordered,
        assignment=tuple(tuple(phase.keys[i] for i in items) for items in phase.assignment.bins),
        predicted_makespan_s=phase.assignment.makespan, round_robin_makespan_s=phase.round_robin_makespan_s,
        profile_time_s=phase.profile_time_s, phase_time_s=phase.phase_time_s if trained else 0.0, serial_cost_s=serial,
        threshold=opts.threshold, max_error=opts.max_error, max_block_drop=opts.max_block_drop, skipped=plan.skipped,
        teacher_accuracy=teacher_accuracy, reassembled_accuracy=reassembled_accuracy,
        finetuned_accuracy=finetune.accuracy, kept_blocks=sum(1 for r in ordered if r.kept),
        reused_blocks=sum(1 for r in ordered if r.reused),
        speedup=speedup_of(serial, phase.phase_time_s) if trained else None, finetune_time_s=finetune.time_s)


def _result(ctx: Context, teacher, teacher_training, student, finetune: Finetune, report: BlockwiseReport,
            started: float) -> DistillResult:

    config = ctx.config
    teacher = teacher.cpu()
    teacher_summary = summarize(ctx, "teacher", teacher, config.teacher, teacher_training)
    student = student.cpu().eval()
    onnx_path = export_onnx(student, ctx.input_shape, config.out_dir / "student.onnx")
    parity = check_parity(student, onnx_path, ctx.input_shape, atol=1e-4)
    kept = [b.path for b in report.blocks if b.kept]
    description = f"{config.teacher}, {report.kept_blocks}/{len(report.blocks)} {report.granularity} blocks -> {report.replacement}"
    weights_path = atomic_save({"state_dict": student.state_dict(), "role": "student", "method": METHOD,
                                "teacher": config.teacher, "input_shape": list(ctx.input_shape),
                                "blockwise": {"blocks": report.granularity, "replacement": report.replacement,
                                              "kept": kept},
                                "accuracy": finetune.accuracy if finetune.accuracy is not None else report.reassembled_accuracy},
                               config.out_dir / "student.pt")
    training = finetune.outcome.summary if finetune.outcome is not None else None
    student_summary = summarize(ctx, "student", student, description, training, onnx_path=str(onnx_path),
                                checkpoint_path=str(weights_path))
    return finish_result(ctx, started, method=METHOD, teacher=teacher_summary, student=student_summary,
                         parity_max_abs_diff=parity, blockwise=report)
