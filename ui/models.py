"""Which network answers predictions: the session's own, else a snapshot loaded for drawing, else the pretrained one.

The session's job wins as soon as it has published weights (a fresh Train after "Use for drawing" answers
with the network being trained); without a job the snapshot chosen with "Use for drawing" answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from mnist_core.model.architecture import PRESETS
from ui.session import current_job, inference_model

DRAWING = "snapshot_for_drawing"  # the LoadedSnapshot chosen with "Use for drawing" (ui/snapshots.py)


@dataclass(frozen=True)
class Answerer:
    model: object  # mnist_core.inspection.inference.InferenceModel
    description: str
    own: bool  # not the bundled one: the session's job (it may still be training) or a snapshot it loaded
    training: bool
    layers: list  # the LayerSpec list of `model`


@st.cache_resource(show_spinner="Loading the pretrained network…")
def _pretrained():
    from mnist_core.snapshots.pretrained import load_pretrained

    return load_pretrained()


def pretrained():
    """The bundled pretrained network (mnist_core.snapshots.pretrained.Pretrained), loaded once per server."""
    return _pretrained()


def answerer() -> Answerer:
    """The network to predict with now, and a sentence saying which it is and how good it is."""
    job = current_job()
    snap = job.view() if job is not None else None
    if snap is not None and snap.weights_version > 0:
        last = snap.last_epoch
        quality = (
            f"test accuracy {last.test_accuracy_crops:.2%} with {last.crops} crops after epoch {last.epoch}"
            if last
            else "not evaluated yet: its first epoch is under way"
        )
        state = "training now" if not snap.final else snap.status
        text = f"**Your network** ({state}, {snap.examples_seen:,} examples seen; {quality})."
        return Answerer(inference_model(job), text, own=True, training=not snap.final, layers=job.layers)
    loaded = st.session_state.get(DRAWING)
    if loaded is not None:
        text = f"**Loaded snapshot:** {loaded.description}"
        return Answerer(loaded.model, text, own=True, training=False, layers=loaded.layers)
    pre = _pretrained()
    text = (
        f"**The bundled pretrained network** (the ConvNetJS net, {pre.weights:,} weights; test accuracy "
        f"{pre.test_accuracy_crops:.2%} with {pre.crops} crops). Press **Train** to use your own."
    )
    return Answerer(pre.model, text, own=False, training=False, layers=PRESETS["convnetjs"])
