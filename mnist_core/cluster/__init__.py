"""Training on a Ray cluster: each run in a Ray actor hosting the same engine, steered by a proxy in the web process.

`config` reads MNIST_LIVE_RAY_ADDRESS and MNIST_LIVE_RAY_CPUS (no Ray import), `factory` picks where a new run
trains (the server process, or the cluster when one is configured and reachable), `connection` joins the
cluster and keeps MNIST in its object store, `host` is the actor's side and `remote` the web process's proxy.
Nothing here imports Ray unless MNIST_LIVE_RAY_ADDRESS is set.
"""
