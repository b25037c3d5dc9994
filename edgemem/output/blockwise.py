"""Blockwise distillation on the terminal: one live display of every worker's blocks on rank 0
(done, running, queued, ETA; on stderr), and the final per-block table.

``BlockwiseDisplay`` is the run's progress sink: part B's ``DistillProgress`` (teacher and
fine-tune bars) plus the blockwise phase. Its ETA per worker is the scheduler's measured cost of
the blocks still queued on it plus the unfinished share of the block it is training. Without a
terminal (or under ``--json``) it prints one line per finished block instead.
"""

from __future__ import annotations

import time

from rich.console import Group
from rich.live import Live
from rich.text import Text

from edgemem.distill.blockwise.result import BlockRecord, BlockwiseReport
from edgemem.output import Output
from edgemem.output.grid import NAME, NUMBER, PROSE, Col, Grid, Name
from edgemem.output.training import DistillProgress, percent

REUSED = "reused"


class BlockwiseDisplay(DistillProgress):
    def __init__(self, out: Output) -> None:
        super().__init__(out)
        self.keys: list[str] = []
        self.reused: set[str] = set()
        self.worker_of: dict[str, int] = {}
        self.estimates: dict[str, float] = {}
        self.statuses: list[dict] = []
        self._announced: set[str] = set()
        self._live: Live | None = None
        self._began = 0.0

    # ---- the blockwise phase ---------------------------------------------------------------
    def blocks_planned(self, keys, reused, assignment, estimates) -> None:
        self.keys, self.reused, self.estimates = list(keys), set(reused), dict(estimates)
        self.worker_of = {key: worker for worker, items in enumerate(assignment) for key in items}
        self._began = time.time()
        trained = len(self.keys) - len(self.reused)
        makespan = max((sum(self.estimates.get(k, 0.0) for k in items) for items in assignment), default=0.0)
        self.out.info(f"blockwise: {trained} block(s) to train on {len(assignment)} worker(s), "
                      f"{len(self.reused)} reused; predicted makespan {makespan:.1f} s")
        if self.out.interactive and trained:
            self._live = Live(self.render(), console=self.out.err, refresh_per_second=2, transient=False)
            self._live.start()

    def workers_status(self, statuses: list[dict]) -> None:
        self.statuses = [s for s in statuses if s]
        if self._live is not None:
            self._live.update(self.render())
            return
        for status in self.statuses:
            for key, (loss, seconds) in status.get("done", {}).items():
                if key not in self._announced:
                    self._announced.add(key)
                    self.out.info(f"block {key} done on worker {status['rank']}: MSE {loss:.4g}, {seconds:.1f} s "
                                  f"({len(self._announced)}/{len(self.keys) - len(self.reused)})")

    def blocks_finished(self) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.stop()
            self._live = None

    # ---- drawing ---------------------------------------------------------------------------
    def render(self) -> Group:
        return Group(self.workers_table(), self.blocks_table())

    def workers_table(self) -> Grid:
        grid = Grid([Col("worker", NAME), Col("training", NAME), Col("epoch", NUMBER), Col("MSE", NUMBER),
                     Col("done", NUMBER), Col("ETA", NUMBER)], title=f"blockwise workers ({time.time() - self._began:.0f} s)")
        for status in self.statuses:
            done, queue = status.get("done", {}), status.get("queue", [])
            block = status.get("block")
            epoch = f"{status.get('epoch', 0)}/{status.get('epochs', 0)}" if block else ""
            loss = status.get("loss")
            grid.add_row(Name(f"{status['rank']} ({status.get('host', '?')})"),
                         block or ("finished" if len(done) == len(queue) else "-"),
                         epoch, "" if loss is None or not block else f"{loss:.4g}", f"{len(done)}/{len(queue)}",
                         f"{self.eta_s(status):.0f} s")
        return grid

    def blocks_table(self) -> Grid:
        grid = Grid([Col("block", NAME), Col("worker", NUMBER), Col("state"), Col("MSE", NUMBER), Col("time", NUMBER),
                     Col("estimate", NUMBER)], title="blocks")
        states = self.block_states()
        for key in self.keys:
            state, loss, seconds = states.get(key, ("queued", None, None))
            grid.add_row(key, str(self.worker_of.get(key, "")), state, "" if loss is None else f"{loss:.4g}",
                         "" if seconds is None else f"{seconds:.1f} s",
                         f"{self.estimates[key]:.1f} s" if key in self.estimates else "")
        return grid

    def block_states(self) -> dict[str, tuple[str, float | None, float | None]]:
        states = {key: (REUSED, None, None) for key in self.reused}
        for status in self.statuses:
            for key, (loss, seconds) in status.get("done", {}).items():
                states[key] = ("done", loss, seconds)
            block = status.get("block")
            if block:
                states[block] = (f"running {status.get('epoch', 0)}/{status.get('epochs', 0)}", status.get("loss"),
                                 time.time() - status.get("since", time.time()))
        return states

    def eta_s(self, status: dict) -> float:
        """Measured cost of the queued blocks plus the unfinished share of the running one."""
        done, block = status.get("done", {}), status.get("block")
        remaining = sum(self.estimates.get(k, 0.0) for k in status.get("queue", []) if k not in done and k != block)
        if block:
            epochs = max(status.get("epochs", 1), 1)
            remaining += self.estimates.get(block, 0.0) * (1 - status.get("epoch", 0) / epochs)
        return remaining


# ---- the final table -------------------------------------------------------------------------

def render_blockwise_report(report: BlockwiseReport, out: Output) -> None:
    c = out.console
    c.print()
    c.print(blocks_report_table(report))
    c.print()
    c.print(schedule_table(report))
    for line in summary_lines(report):
        c.print(line)


def blocks_report_table(report: BlockwiseReport) -> Grid:
    """What each replacement costs and how well it does, and whether the acceptance rule kept it and why."""
    grid = Grid([Col("block", NAME), Col("params", NUMBER), Col("MSE", NUMBER), Col("error", NUMBER),
                 Col("alone", NUMBER), Col("decision", PROSE), Col("student", NUMBER)],
                title=f"blockwise: {report.granularity} blocks -> {report.replacement}",
                caption="params: replacement/teacher block; MSE: last epoch/evaluation split; error: evaluation MSE / "
                        "mean square of the block's output; alone: accuracy with only this block replaced; decision: "
                        "the acceptance rule (error, alone, student) and why; student: the student's accuracy when the "
                        "reassembly (reverse order) decided on this block")
    for b in report.blocks:
        grid.add_row(b.key, f"{b.replacement_parameters:,}/{b.teacher_parameters:,}", f"{b.train_loss:.3g}/{b.eval_loss:.3g}",
                     f"{b.relative_error:.3g}", percent(b.spliced_accuracy), _decision(b), percent(b.accuracy_after))
    return grid


def schedule_table(report: BlockwiseReport) -> Grid:
    """Where each block trained, from where it read the teacher's activations, predicted and measured time."""
    grid = Grid([Col("block", NAME), Col("worker", NUMBER), Col("activations"), Col("estimate", NUMBER),
                 Col("time", NUMBER)], title="blockwise schedule",
                caption="activations: the teacher's, computed on the fly or read from the disk cache; estimate: "
                        "the scheduler's measured cost")
    for b in report.blocks:
        grid.add_row(b.key, str(b.worker), "disk cache" if b.activations == "cache" else "on the fly",
                     f"{b.estimated_s:.2f} s", _time(b))
    return grid


def summary_lines(report: BlockwiseReport) -> list[Text]:
    trained = len(report.blocks) - report.reused_blocks
    lines = []
    if trained:
        speed = f"{report.speedup:.2f}x" if report.speedup is not None else "-"
        lines.append(Text(f"blockwise phase: {trained} block(s) on {report.workers} worker(s) ({report.backend}, "
                          f"{report.scheduler}) in {report.phase_time_s:.1f} s, speedup {speed} over the measured serial "
                          f"cost {report.serial_cost_s:.1f} s"))
        lines.append(Text(f"predicted makespan {report.predicted_makespan_s:.1f} s (round robin "
                          f"{report.round_robin_makespan_s:.1f} s); profiling {report.profile_time_s:.1f} s"))
    if report.skipped:
        lines.append(Text(f"left as the teacher's (no smaller replacement): {'; '.join(report.skipped)}"))
    if report.reused_blocks:
        lines.append(Text(f"{report.reused_blocks} block(s) finished by an earlier run were reused, not retrained"))
    finetuned = "" if report.finetuned_accuracy is None else \
        f", after the KD fine-tune {percent(report.finetuned_accuracy)} ({report.finetune_time_s:.1f} s)"
    lines.append(Text(f"accuracy: teacher {percent(report.teacher_accuracy)}, reassembled {percent(report.reassembled_accuracy)} "
                      f"with {report.kept_blocks}/{len(report.blocks)} replacements kept (rule: block error <= "
                      f"{report.max_error:g}, alone <= {report.max_block_drop * 100:.1f} points, student <= "
                      f"{report.threshold * 100:.1f} points below the teacher){finetuned}"))
    return lines


def _time(b: BlockRecord) -> str:
    if b.reused:
        return "reused"
    return f"{b.time_s:.2f} s" + (f" (from epoch {b.resumed_from_epoch})" if b.resumed_from_epoch else "")


def _decision(b: BlockRecord) -> Text:
    if b.kept is None:
        return Text("-")
    text = Text("kept", style="green") if b.kept else Text("dropped", style="red")
    return text + Text(f" ({b.reason})") if b.reason else text
