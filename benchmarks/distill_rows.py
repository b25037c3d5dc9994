"""How one row of benchmarks/distill_cifar.py trains (through edgemem.distill.run) and how the
finished rows print: mean and spread over seeds, memory, time, load, and the issue's targets."""

from __future__ import annotations

import statistics
from pathlib import Path

from edgemem.units import format_bytes

TARGETS_TEXT = {
    "x4": "x4 pooled default >= 76.0 %",
    "x2": "x2 pooled default >= 81.0 %",
    "gain": "x4 default - x4 KD >= 1.0 point",
    "blockwise": "blockwise >= 2x smaller (weights or peak) and within 2 points of its teacher",
    "moonshine": "WRN-40-2 cheap-conv student <= 1/3 of the parameters and within 2 points of its teacher",
}


def _context(table: dict, log):
    from edgemem.distill.config import config_from_mapping
    from edgemem.distill.data import load_dataset
    from edgemem.distill.run import Context

    config = config_from_mapping(table)
    return Context(config, load_dataset(config.dataset, config.data_path, config.data), log, [])


def _summary_record(summary, time_s: float, **extra) -> dict:
    training = summary.training
    return {"accuracy": summary.accuracy * 100, "peak_activation_bytes": summary.peak_activation_bytes,
            "arena_bytes": summary.arena_bytes, "weights_bytes": summary.weights_bytes, "parameters": summary.parameters,
            "time_s": time_s, "description": summary.description,
            "epochs": training.epochs if training is not None else None, **extra}


def _history_time(history) -> float:
    return float(sum(h.time_s if hasattr(h, "time_s") else h["time_s"] for h in history))


def teacher_model(ctx):
    """(teacher, TrainSummary or None, training seconds): a finished cached teacher is loaded from its
    files (whatever the fingerprint of the current code), else trained or continued."""
    from edgemem.distill.checkpoint import read_checkpoint
    from edgemem.distill.run import prepare_teacher
    from edgemem.distill.teacher import load_teacher

    cache = ctx.config.teacher_cache_dir
    weights, meta, last = cache / "teacher.pt", cache / "teacher.json", cache / "checkpoint" / "last.pt"
    if weights.is_file() and meta.is_file():
        teacher = load_teacher(ctx.config.teacher, ctx.dataset.num_classes, ctx.dataset.in_channels, weights).eval()
        seconds = _history_time(read_checkpoint(last)["history"]) if last.is_file() else float("nan")
        return teacher, None, seconds
    teacher, training = prepare_teacher(ctx)
    return teacher, training, _history_time(training.history)


def run_model(row, table: dict, log) -> dict:
    """A teacher row, or a student row trained from its family's finished teacher."""
    from edgemem.distill.recipe import resolve_stem
    from edgemem.distill.run import prepare_teacher, summarize, train_student
    from edgemem.distill.students.spec import StudentSpec

    ctx = _context(table, log)
    if row.method == "teacher":
        teacher, training, seconds = teacher_model(ctx)
        return _summary_record(summarize(ctx, "teacher", teacher, row.model, training), seconds)
    teacher, _ = prepare_teacher(ctx)
    spec = StudentSpec(**{"stem": resolve_stem(ctx.config.student.stem), **row.spec})
    summary, parity, method = train_student(ctx, teacher, spec, row.name, row.method, ctx.config.out_dir / row.name)
    used = StudentSpec(**summary.spec) if summary.spec else spec  # the spec trained (auto may drop RED)
    extra = {"parity": parity, "resolved_method": method, "spec_label": used.label(),
             "resumed_from": summary.training.resumed_from_epoch if summary.training else 0}
    return _summary_record(summary, _history_time(summary.training.history), **extra)


def run_blockwise(row, table: dict, log) -> dict:
    """A blockwise row: ``edgemem.distill.run.distill`` with method blockwise into the row's folder."""
    from edgemem.distill.config import config_from_mapping
    from edgemem.distill.run import distill

    out = Path(table["out"]) / row.name
    config = config_from_mapping({**table, "method": "blockwise", "out": str(out), "teacher_cache": str(out / "teacher")})
    result = distill(config, log)
    report = result.blockwise
    seconds = report.phase_time_s + report.profile_time_s + (report.finetune_time_s or 0.0)
    return _summary_record(result.student, seconds, kept_blocks=report.kept_blocks, blocks=len(report.blocks),
                           teacher_accuracy=report.teacher_accuracy * 100,
                           reassembled_accuracy=report.reassembled_accuracy * 100,
                           teacher_weights_bytes=result.teacher.weights_bytes,
                           teacher_peak_bytes=result.teacher.peak_activation_bytes)


# ---- the table ---------------------------------------------------------------------------------

def _group(records: list[dict], items) -> list[tuple[str, str, list[dict]]]:
    order, groups = [], {}
    for key, row, _ in items:
        group = (row.family, row.name)
        if group not in groups:
            order.append(group)
            groups[group] = []
    for record in records:
        group = (record["family"], record["name"])
        if group in groups:
            groups[group].append(record)
    return [(family, name, sorted(groups[(family, name)], key=lambda r: r["seed"])) for family, name in order]


def _mean(group, field="accuracy") -> float | None:
    values = [r[field] for r in group if r.get(field) is not None]
    return statistics.mean(values) if values else None


def print_table(records: list[dict], items) -> dict[str, bool]:
    """Mean +- sample std over seeds (and the per-seed values) of every finished row; the targets."""
    groups = _group(records, items)
    print()
    print(f"{'model':<30} {'method':<18} {'accuracy %':>15} {'seeds':<13} {'peak act.':>10} {'weights':>10} "
          f"{'params':>9} {'time/seed':>9} {'load':>5}")
    for family, name, group in groups:
        if not group:
            continue
        accs = [r["accuracy"] for r in group]
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        first = group[0]
        print(f"{first['model']:<30} {first['label']:<18} {statistics.mean(accs):>8.2f} +- {spread:<4.2f} "
              f"{'/'.join(f'{a:.2f}' for a in accs):<13} {format_bytes(first['peak_activation_bytes']):>10} "
              f"{format_bytes(first['weights_bytes']):>10} {first['parameters']:>9,} {_mean(group, 'time_s'):>7.0f} s "
              f"{_mean(group, 'load_mean'):>5.1f}")
    print("(mean +- sample std over the seeds listed; time = training time per seed (sum of epoch times); "
          "load = mean 1-minute load average while it trained, 2 cores)")
    return check_targets({(f, n): g for f, n, g in groups})


def check_targets(groups: dict) -> dict[str, bool]:
    results: dict[str, bool] = {}

    def acc(family, name):
        group = groups.get((family, name)) or []
        return _mean(group) if group else None

    x4, x2, kd = acc("resnet20", "x4-auto"), acc("resnet20", "x2-auto"), acc("resnet20", "x4-kd")
    values = {"x4": (x4, x4 is not None and x4 >= 76.0), "x2": (x2, x2 is not None and x2 >= 81.0),
              "gain": (None if x4 is None or kd is None else x4 - kd, x4 is not None and kd is not None and x4 - kd >= 1.0)}
    teacher = acc("resnet20", "teacher")
    block = groups.get(("resnet20", "blockwise")) or []
    if block and teacher is not None:
        ratio = max(block[0]["teacher_weights_bytes"] / block[0]["weights_bytes"],
                    block[0]["teacher_peak_bytes"] / block[0]["peak_activation_bytes"])
        values["blockwise"] = (teacher - _mean(block), ratio >= 2.0 and teacher - _mean(block) <= 2.0)
    wrn_teacher, wrn = groups.get(("wrn-40-2", "teacher")) or [], groups.get(("wrn-40-2", "g8-kd_at")) or []
    if wrn_teacher and wrn:
        gap = _mean(wrn_teacher) - _mean(wrn)
        values["moonshine"] = (gap, wrn[0]["parameters"] * 3 <= wrn_teacher[0]["parameters"] and gap <= 2.0)
    for name, (value, met) in values.items():
        shown = "n/a" if value is None else f"{value:.2f}"
        print(f"target {TARGETS_TEXT[name]}: {shown} -> {'met' if met else 'NOT met'}")
        results[name] = met
    return results
