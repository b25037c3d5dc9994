"""``edgemem distill --task denoise``: a DDPM noise predictor distilled into a pooled student.

* ``options``: the ``[denoise]`` config table (no torch).
* ``schedule``: the linear beta schedule, forward noising, DDPM and DDIM sampling steps.
* ``data``: images in [-1, 1] from any image dataset of edgemem.distill.data, flip augmentation.
* ``trainer``: Adam + warmup + gradient clipping + EMA, per-epoch checkpoints and resume; the
  loss mixes the true noise, the teacher's noise prediction and RED feature alignment.
* ``evaluate``: the held-out denoising loss (fixed seeded timesteps and noise).
* ``sample``: sampling with progress and PNG grids.
* ``quality``: the Fréchet distance in the feature space of a classifier the run trains itself.
* ``run``: one run end to end; ``result``: what it reports (no torch).
"""
