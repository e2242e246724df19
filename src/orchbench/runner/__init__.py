"""Running trials: one trial (`trial.py`), experiments of many (`experiment`, `schedule`, `batch`),
and the backends that run them (`local_backend`, `ray_backend`)."""
