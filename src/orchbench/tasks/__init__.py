"""Tasks: the TOML format (spec), base repos (source), judge venvs (venv), breakage (inject),
cached set-up states (setup), per-trial copies (workspace) and the soundness check (check).

Entry points: `spec.load_task`, `spec.builtin_tasks`, `workspace.workspace`, `check.check_task`.
"""
