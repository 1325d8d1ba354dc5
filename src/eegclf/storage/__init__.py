"""Storage: everything eegclf writes to or reads from disk about a run.

``fileio`` (atomic writes, file hashes), ``safetensors_io`` (the one safetensors reader), ``checkpoint``
(safetensors checkpoints), ``train_state`` (the resumable training state) and ``rundir`` (the run folder: every
file name in it). Nothing is imported here, so that ``eegclf.storage.fileio`` stays as light as it is.
"""
