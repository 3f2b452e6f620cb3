"""The session's dataset, training job and inference copy, in st.session_state (ended with it: ui.lifecycle)."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable

import streamlit as st

from mnist_core.data.download import DownloadError, ensure_mnist
from mnist_core.data.mnist import ENV_VAR, DatasetError, Mnist, is_loaded, load_mnist
from mnist_core.model.architecture import LayerSpec
from mnist_core.settings import TrainSettings
from ui.handwriting import with_extra_digits
from ui.lifecycle import OWNER, session_owner
from ui.run_controls import start_run

JOB = "job"
INFERENCE = "inference"
NOTE = "change_note"
DRAWN_DIGIT = "drawn_digit"  # the Draw page's last 28x28 input, for the Inside page
DATA_FAILED = "dataset_failed"  # set while the dataset cannot be loaded (the Train page's button reads it)


@st.cache_resource(show_spinner="Loading MNIST (once per server)…")
def _shared_mnist(path: str | None) -> Mnist:
    return load_mnist(path)


def dataset() -> Mnist | None:
    """The process-wide MNIST, or None after showing what is wrong with it."""
    path = os.environ.get(ENV_VAR) or None
    try:
        if path is None and not is_loaded(None):
            _download_with_progress()
        data = _shared_mnist(path)
    except DatasetError as exc:
        st.error(f"**The MNIST dataset could not be loaded.** {exc}", icon=":material/error:")
        st.session_state[DATA_FAILED] = True
        return None
    st.session_state.pop(DATA_FAILED, None)
    return data


def _download_with_progress() -> None:
    """Fetch Keras's MNIST file (the first start on a new machine) with a progress bar."""
    bar = st.progress(0.0, text="Downloading MNIST (11 MB, once per server)…")

    def progress(done: int, total: int | None) -> None:
        mb = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"
        bar.progress(min(done / total, 1.0) if total else 0.0, text=f"Downloading MNIST (once per server): {mb}")

    try:
        ensure_mnist(progress)
    except DownloadError as exc:
        raise DatasetError(f"{exc} If this machine is offline, set {ENV_VAR} to a local mnist.npz.") from exc
    finally:
        bar.empty()


def current_job():
    job = st.session_state.get(JOB)
    if job is not None:
        session_owner()  # re-arms the release hook after a reconnection
    return job


def start_job(
    settings: TrainSettings, data: Mnist, layers: list[LayerSpec], *, paused: bool = False, **options
) -> None:
    """Replace any finished job with a new one training `layers` with `settings`, and start it (`paused`: for Step).

    `options` go to TrainingJob (e.g. the weights and history of a loaded snapshot to continue from). It trains
    here, or on the Ray cluster that MNIST_LIVE_RAY_ADDRESS names (mnist_core.cluster.factory). The saved digits
    the settings ask for are read here (ui.handwriting) and handed to the job, unless `options` brings them.
    """
    from mnist_core.cluster.factory import new_job  # imports TensorFlow: only once someone trains

    if "extra" not in options:
        settings, options["extra"] = with_extra_digits(settings)
    stop_job()
    from ui.run_store import save_when_done  # SQLAlchemy: only once someone trains

    start_run(JOB, new_job(settings, data, layers, **options), save_when_done, paused=paused)
    st.session_state.pop(NOTE, None)


def stop_job() -> None:
    """Stop and forget the session's job (the Reset button)."""
    job = st.session_state.pop(JOB, None)
    st.session_state.pop(INFERENCE, None)
    st.session_state.pop(NOTE, None)
    if job is not None:
        job.stop()
        owner = st.session_state.get(OWNER)
        if owner is not None:
            owner.drop(JOB)


def inference_model(job):
    """The session's inference copy of `job`'s network, synced to its latest published weights."""
    from mnist_core.inspection.inference import InferenceModel

    held = st.session_state.get(INFERENCE)
    if held is None or held[0] is not job:
        held = (job, InferenceModel.for_layers(job.layers, job.settings.seed))
        st.session_state[INFERENCE] = held
    held[1].sync(job.state)
    return held[1]


# Streamlit keeps a download button's callable in its process-wide MediaFileManager until that session reruns
# or shuts down, and a closed tab's session may do neither (seen holding a stopped job and its model there):
# these callables hold the job weakly, so that ending the session (ui.lifecycle) frees it. They run in a worker
# thread, outside any script run, so they touch no st.* either.


def _held(ref: weakref.ref):
    job = ref()
    if job is None:
        raise RuntimeError("this training run has been discarded")
    return job


def model_file(job) -> Callable[[], bytes]:
    """A download callable: `job`'s latest published network as a `.keras` file."""
    ref = weakref.ref(job)

    def data() -> bytes:
        from mnist_core.inspection.inference import InferenceModel

        held = _held(ref)
        model = InferenceModel.for_layers(held.layers, held.settings.seed)
        model.sync(held.state)
        return model.keras_bytes()

    return data


def metrics_file(job) -> Callable[[], str]:
    """A download callable: `job`'s metrics as CSV."""
    from mnist_core.training.export import history_csv  # pandas: not needed for the first page

    ref = weakref.ref(job)
    return lambda: history_csv(_held(ref).view())
