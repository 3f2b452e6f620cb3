"""Runs: the one training engine, the state a run shares with its page, the job, the race and the model pool.

`engine` is the only training loop; `job` (the Train page) and `race` (the Compare page) drive it. A run is
steered through `run.BackgroundRun` (start, pause, resume, stop, change, view, weights, join) and its numbers are
read from its `run_state.RunState`; `warmup` exercises it once at start. May import every layer below it: `compat`,
`settings`, `data`, `model`, `runtime` and `inspection`.
"""
