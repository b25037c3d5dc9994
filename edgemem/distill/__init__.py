"""Budget-driven distillation: the only package that imports torch (inside its modules).

This ``__init__`` must stay import-free so that ``edgemem --help`` never loads torch.
"""
