"""The Inside page's Gradients tab: each layer's loss gradients, for one digit or the last Step's batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from mnist_core.data.mnist import Mnist
from mnist_core.inspection.pictures import diverging_label, feature_maps_shown, gradient_maps_png, weight_gradient_png
from mnist_core.training.status import Status
from ui.inside_views import ACTIVATIONS_REFRESH_SECONDS, FROM_DRAW, _legend, _pick_input, redrawn_while_training
from ui.session import current_job

if TYPE_CHECKING:
    from mnist_core.inspection.inspector import Inspector

ONE_DIGIT = "One digit"
READING = (
    "**How to read them.** Each picture is the gradient of the loss: how much the loss would change per unit "
    "of that value. **Red**: making the value larger would raise the loss; **blue**: it would lower it; white: it "
    "does not matter now. A training step moves every weight a little *against* its gradient (red weights down, "
    "blue ones up). Each picture has its own symmetric scale (its largest magnitude; each layer's minimum and "
    "maximum are printed with it), so compare shapes within a layer and the printed ranges between layers. "
    "The backward pass starts at the last layer, whose gradient is the predicted probabilities minus 1 at the "
    "true class."
)


def _step_batch():
    """The last Step's report, while the session's run is paused after one."""
    job = current_job()
    snap = job.view() if job is not None else None
    return snap.step if snap is not None and snap.status is Status.PAUSED else None


def gradients_tab(data: Mnist | None) -> None:
    """Each layer's gradients wrt its output and its weights, redrawn while the session's network trains."""
    st.markdown(READING)
    _legend("each picture's own scale: −its largest magnitude (blue) … 0 (white) … +it (red)", diverging=True)
    step = _step_batch()
    source, stepped = ONE_DIGIT, False
    if step is not None:
        batch = f"The batch of Step {step.number} (its first {len(step.labels)} images)"
        source = st.radio("Gradients of", [ONE_DIGIT, batch], horizontal=True, key="gradient_source")
    if source == ONE_DIGIT:
        image, caption = _pick_input(data)
        if image is None:
            return
        images, labels, example = image[None], None, 0
    else:
        images, labels = step.images, step.labels
        example = st.number_input("Image of the batch shown", 0, len(labels) - 1, key="gradient_example")
        caption = f"image {example} of Step {step.number}'s batch (a {labels[example]})"
        stepped = True

    def _gradients(inspector: Inspector) -> None:
        targets = labels
        if targets is None:  # one digit: its true label, or for a drawn one the network's own answer
            drawn = st.session_state.get("inside_source") == FROM_DRAW
            targets = [_answer(inspector, images[0])] if drawn or data is None else [_label(data)]
        result = inspector.gradients(images, np.asarray(targets), example=int(example))
        mean = f" (the mean over {result.batch} images; output gradients of the image shown)" if stepped else ""
        target = int(targets[example])
        st.markdown(f"**Input: {caption}**, learning the label **{target}**: loss {result.loss:.4f}{mean}.")
        for layer in result.layers:
            _layer(layer, last=layer is result.layers[-1])

    redrawn_while_training(ACTIVATIONS_REFRESH_SECONDS, _gradients)


def _label(data: Mnist) -> int:
    return int(data.test.y[int(st.session_state.get("inside_index", 0))])


def _answer(inspector, image: np.ndarray) -> int:
    return int(np.argmax(inspector.class_scores(image)))


def _layer(layer, last: bool) -> None:
    shape = " x ".join(map(str, layer.shape))
    shown = feature_maps_shown(layer)
    total = layer.shape[-1]
    part = f", first {shown} of {total} shown" if shown < total else ""
    where = " (its scores, before the softmax)" if last else ""
    text = f"**{layer.name}** ({layer.kind}, {shape}{part}): gradient wrt its output{where} "
    text += f"from {layer.minimum:.3g} to {layer.maximum:.3g}"
    if layer.weights is not None:
        text += f"; wrt its weights from {layer.weights_minimum:.3g} to {layer.weights_maximum:.3g}"
    st.markdown(text)
    output, weights = st.columns(2)
    # The scale goes in the caption (one shared colour bar above): half the elements per redraw while training.
    output.image(gradient_maps_png(layer), caption=f"wrt its output, scale {diverging_label(layer.limit)}")
    if layer.weights is not None:
        first_conv = layer.weights.ndim == 4 and layer.weights.shape[2] == 1
        weights.image(
            weight_gradient_png(layer, scale=16 if first_conv else 8),
            caption=f"wrt its weights (kernel), scale {diverging_label(layer.weights_limit)}",
        )
