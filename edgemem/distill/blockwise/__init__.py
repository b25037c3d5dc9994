"""Parallel blockwise distillation (Blakeney, Li, Yan, Zong, IEEE TPDS; arXiv 2012.03096) on
``torch.distributed``.

The idea: every block of the teacher (each dense k x k convolution, or each residual block) gets
a cheaper replacement with the same input and output shapes (the paper's pair of depthwise-
separable convolutions, or any cheap convolution of ``students/cheap.py``), and each replacement
is trained *alone* on the teacher's own input and output of that block with MSE. No block
depends on another, so blocks spread over workers with no communication until the end: one
process per worker under ``torchrun`` (gloo on CPU, NCCL on GPUs), blocks assigned by a load
balancer from measured per-block costs (``schedule.py``: longest-processing-time bin packing,
round robin as the baseline). Blocks without a replacement smaller than themselves stay as they
are. The replacements are spliced back in reverse order, each kept only while an explicit
acceptance rule holds (``acceptance.py``, ``reassemble.py``: the block's output error, the accuracy
with that block alone replaced, the student's accuracy within a threshold of the teacher's; a run
that keeps nothing is an error), and the student is fine-tuned end to end with KD under
DistributedDataParallel (``finetune.py``).

Files, one job each: ``options`` (the ``[blockwise]`` settings), ``blocks`` (splitting),
``replacements`` (one table by name), ``acceptance`` (the rule), ``activations`` (truncated
teacher, disk cache, measured costs), ``train`` (one block), ``store`` (per-block checkpoints and results), ``schedule``,
``comm`` (process group, status board), ``reassemble``, ``finetune``, ``run`` (the whole run),
``launch`` (starting ``torchrun``), ``result`` (what the run reports).

Importing this package imports no torch; the modules that need it import it themselves.
"""
