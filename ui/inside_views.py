"""The Inside page's Filters and Activations tabs: pictures of the shown network, redrawn while it trains."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from mnist_core.charts.stream import enlarge
from mnist_core.data.mnist import Mnist
from mnist_core.inspection.pictures import (
    colour_scale_png,
    diverging_label,
    feature_maps_png,
    feature_maps_shown,
    filter_grid_png,
    filter_grid_shape,
    saliency_overlay_png,
    saliency_png,
    sequential_label,
)
from ui.models import answerer
from ui.session import DRAWN_DIGIT

if TYPE_CHECKING:
    from mnist_core.inspection.inspector import Inspector

REFRESH_SECONDS = 2.0  # while a job trains: often enough to watch edges form, rare enough not to slow it
# A redraw of every layer's maps plus the saliency holds the server for ~0.1 s against the training thread.
ACTIVATIONS_REFRESH_SECONDS = 4.0
FROM_DRAW, FROM_TEST = "The digit from the Draw page", "A test digit"


def redrawn_while_training(seconds: float, draw: Callable[[Inspector], None], *, caption_last: bool = False) -> None:
    """`draw(inspector)` of the shown network in a fragment, redrawn every `seconds` while the session's job trains.

    While it trains, a caption says so (before the drawing, or after it with `caption_last`); once the job has
    ended, one full run of the page stops the timer.
    """
    training = answerer().training

    @st.fragment(run_every=seconds if training else None)
    def _redrawn() -> None:
        who = answerer()
        if training and not who.training:
            st.rerun()  # the job ended: one full run stops the timer
        caption = f"Redrawn every {seconds:g} s while your network trains." if who.training else None
        if caption and not caption_last:
            st.caption(caption)
        draw(who.model.inspector())
        if caption and caption_last:
            st.caption(caption)

    _redrawn()


def filters_tab() -> None:
    """Each conv layer's kernels on its own symmetric colour scale."""

    def _filters(inspector: Inspector) -> None:
        banks = inspector.filters()
        if not banks:
            st.info("This network has no conv layer, so it has no filters to show.", icon=":material/info:")
        for bank in banks:
            _filter_bank(bank)

    st.caption(
        "Every kernel of every conv layer, one colour scale per layer: red weights add the pixel under them, "
        "blue ones subtract it, white ones ignore it. First-layer kernels turn into stroke and edge detectors as "
        "the network learns."
    )
    redrawn_while_training(REFRESH_SECONDS, _filters, caption_last=True)


def _filter_bank(bank) -> None:
    kh, kw, cin, cout = bank.kernels.shape
    shape = filter_grid_shape(bank)
    layout = "one tile per filter" if cin == 1 else "a row per filter, a column per input channel"
    shown = f" (showing {shape.filters_shown} x {shape.channels_shown})" if shape.truncated else ""
    st.markdown(f"**{bank.name}**: {cout} filters of {kh}x{kw} over {cin} input channel(s); {layout}{shown}.")
    st.image(filter_grid_png(bank, scale=16 if cin == 1 else 8))
    _legend(diverging_label(bank.limit), diverging=True)


def _legend(text: str, diverging: bool) -> None:
    bar, label = st.columns([1, 3], vertical_alignment="center")
    bar.image(colour_scale_png(diverging), width=200)
    label.caption(text)


def activations_tab(data: Mnist | None, crops: int) -> None:
    """Every layer's output for one digit, and the saliency of the answer."""
    image, caption = _pick_input(data)
    if image is None:
        return

    def _activations(inspector: Inspector) -> None:
        _saliency(inspector.saliency(image, k=crops), image, caption, crops)
        for layer in inspector.activations(image):
            _layer(layer)

    redrawn_while_training(ACTIVATIONS_REFRESH_SECONDS, _activations)


def _pick_input(data: Mnist | None) -> tuple[np.ndarray | None, str]:
    drawn = st.session_state.get(DRAWN_DIGIT)
    options = [FROM_DRAW, FROM_TEST] if drawn is not None else [FROM_TEST]
    source = st.radio("Input", options, horizontal=True, key="inside_source")
    if source == FROM_DRAW and drawn is not None:
        return drawn, "your digit from the Draw page"
    if data is None:
        st.info("Test digits need the MNIST dataset, which could not be loaded.", icon=":material/info:")
        return None, ""
    pick, roll = st.columns([3, 1], vertical_alignment="bottom")
    if roll.button("Random test digit", icon=":material/casino:", width="stretch"):
        st.session_state["inside_index"] = int(np.random.default_rng().integers(len(data.test)))
    index = pick.number_input("Test image number", 0, len(data.test) - 1, key="inside_index")
    if drawn is None:
        st.caption("Draw a digit on the Draw page to look at your own one here.")
    return np.asarray(data.test.x[index]), f"test image #{index} (a {data.test.y[index]})"


def _saliency(saliency, image: np.ndarray, caption: str, crops: int) -> None:
    st.markdown(
        f"**Input: {caption}.** The network reads a **{saliency.predicted}** "
        f"({saliency.probability:.0%}, averaged over {crops} fixed crops)."
    )
    digit, overlay, alone = st.columns(3)
    digit.image(enlarge(image, 8), caption="the 28x28 input", width=224)
    overlay.image(saliency_overlay_png(image, saliency.map), caption="saliency over the digit", width=224)
    alone.image(saliency_png(saliency.map), caption="saliency alone", width=224)
    limit = float(np.abs(saliency.map).max())
    st.caption(
        f"Saliency: the gradient of the {saliency.predicted}'s score (before the softmax, averaged over the crops) "
        f"with respect to each input pixel. Red pixels, made brighter, would raise it; blue ones would lower it "
        f"(scale {diverging_label(limit)} per pixel step)."
    )


def _layer(layer) -> None:
    shape = " x ".join(map(str, layer.shape))
    shown = feature_maps_shown(layer)
    total = layer.shape[-1]
    part = f", first {shown} of {total} shown" if shown < total else ""
    st.markdown(f"**{layer.name}** ({layer.kind}, {shape}{part}): min {layer.minimum:.3g}, max {layer.maximum:.3g}")
    st.image(feature_maps_png(layer))
    if layer.kind != "input":
        _legend(sequential_label(layer.minimum, layer.maximum), diverging=False)
