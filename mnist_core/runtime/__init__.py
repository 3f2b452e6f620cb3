"""The server process: the job queue, CPU and TensorFlow thread sizing, memory handed back, the server's speed.

What every run shares in one process. May import `compat` and `settings`; never `model` or anything above it.
"""
