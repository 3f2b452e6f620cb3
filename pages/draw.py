"""The Draw page: write a digit (or upload one), see the MNIST-style input, every crop's vote and the answer."""

from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from mnist_core.charts.drawing import explanation_html
from mnist_core.charts.stream import enlarge
from mnist_core.charts.training import probability_frame, probability_spec
from mnist_core.data.images import ACCEPTED_EXTENSIONS, ImageError, decode_image_with_notes
from mnist_core.data.preprocess import BlankImageError, Stages, TooLittleInkError, preprocess
from mnist_core.settings import TrainSettings
from ui.digits import label_buttons
from ui.drawing_pad import drawing_pad
from ui.models import answerer
from ui.session import DRAWN_DIGIT, dataset
from ui.sidebar import SETTINGS
from ui.streamlit_workarounds import through_entrypoint

through_entrypoint()

SOURCES = ("Draw", "Upload an image", "Random test digit")
SAVED_AS = {SOURCES[0]: "drawn", SOURCES[1]: "uploaded"}  # MNIST's own test digits are not saved
CANVAS = 280
STROKE = 18
PROMPT = "Draw a digit on the canvas (or pick another input) to see what the network reads."
UPLOAD = "draw_upload"  # (file id, image or None, notes, error): each upload is decoded once, not on every rerun
PREPARED = "draw_prepared"  # (image, its Stages or the error preprocess raised): each input preprocessed once
_LOG = logging.getLogger(__name__)

st.title("Draw a digit")
settings = st.session_state.get(SETTINGS) or TrainSettings()
data = dataset()


def _drawn(keys: list) -> np.ndarray | None:
    # The slider is drawn under the answer, so the pad and the answer fit a phone's screen; its value is read here.
    image, problem, key = drawing_pad(st.session_state.get("draw_stroke", STROKE), CANVAS, key="draw_pad")
    if problem is not None:
        st.error(problem, icon=":material/broken_image:")
    if key is not None:
        keys.append(key)
    return image


def _uploaded(_keys: list) -> np.ndarray | None:
    upload = st.file_uploader("An image of one digit (a photo of paper works)", type=list(ACCEPTED_EXTENSIONS))
    if upload is None:
        st.session_state.pop(UPLOAD, None)
        return None
    _, image, notes, error = _decoded(upload)
    if error is not None:
        st.error(f"**{upload.name}** could not be used: {error}", icon=":material/broken_image:")
        return None
    for note in notes:
        st.info(note, icon=":material/info:")
    st.image(image, caption=upload.name, width=CANVAS)
    return image


def _decoded(upload) -> tuple[str, np.ndarray | None, list[str], str | None]:
    """The upload decoded (or what is wrong with it), kept for as long as the same file stays uploaded."""
    held = st.session_state.get(UPLOAD)
    if held is None or held[0] != upload.file_id:
        image, notes, error = None, [], None
        try:
            image, notes = decode_image_with_notes(upload.getvalue())
        except ImageError as exc:
            error = str(exc)
        except Exception:  # noqa: BLE001 - a file must never produce a traceback in the page; logged for us
            _LOG.exception("decoding an uploaded image failed")
            error = "it could not be read (an unexpected error; details are in the server log)."
        held = (upload.file_id, image, notes, error)
        st.session_state[UPLOAD] = held
    return held


def _prepared(image: np.ndarray) -> Stages | BlankImageError | TooLittleInkError:
    """preprocess(image), or the BlankImageError / TooLittleInkError it raised: computed once per image object.

    The upload's and the drawing's arrays are the same objects on every rerun (and every 3 s while a job trains), so
    each is preprocessed once; a drawing is a new array after each stroke.
    """
    held = st.session_state.get(PREPARED)
    if held is None or held[0] is not image:
        try:
            result = preprocess(image)
        except (BlankImageError, TooLittleInkError) as exc:
            result = exc
        held = (image, result)
        st.session_state[PREPARED] = held
    return held[1]


def _test_digit(_keys: list) -> np.ndarray | None:
    if data is None:
        return None
    if st.button("Another random test digit", icon=":material/casino:") or "draw_test_index" not in st.session_state:
        st.session_state["draw_test_index"] = int(np.random.default_rng().integers(len(data.test)))
    index = st.session_state["draw_test_index"]
    st.image(enlarge(data.test.x[index], 10), caption=f"MNIST test image #{index}", width=CANVAS)
    st.markdown(f"True label: **{data.test.y[index]}**")
    return np.asarray(data.test.x[index])


def _reading(image: np.ndarray):
    """(the input's Stages, the network's CropPrediction, who answered), or the error preprocess raised."""
    stages = _prepared(image)
    if isinstance(stages, (BlankImageError, TooLittleInkError)):
        return stages
    st.session_state[DRAWN_DIGIT] = stages.final
    who = answerer()
    grid = st.session_state.get("draw_offsets", "random") == "fixed grid"
    result = who.model.predict(stages.final, k=settings.crops, seed=st.session_state.get("draw_seed", 0), grid=grid)
    return stages, result, who


def _answer(image: np.ndarray, source: str, keys: list) -> None:
    """The answer, large, and the buttons that save the digit with its label: right under the input."""
    reading = _reading(image)
    if isinstance(reading, BlankImageError):
        if source == SOURCES[0]:
            st.info(PROMPT, icon=":material/edit:")
        else:
            st.warning("This image has no ink: there is no digit to read in it.", icon=":material/warning:")
        return
    if isinstance(reading, TooLittleInkError):
        st.warning(str(reading), icon=":material/warning:")
        return
    stages, result, _ = reading
    probs = result.probabilities[0]
    digit = int(probs.argmax())
    answer = (
        f'<div style="display:flex;align-items:baseline;gap:16px"><span style="font-size:64px;font-weight:700;'
        f'line-height:1">{digit}</span><span style="font-size:22px">{probs[digit]:.0%} confident</span></div>'
    )
    if source in SAVED_AS:
        label_buttons(answer, stages.final, digit, SAVED_AS[source], keys)
    else:
        st.html(answer)


def _details(image: np.ndarray) -> None:
    """Who answered, every digit's probability, the crops' votes and the input's stages."""
    reading = _reading(image)
    if not isinstance(reading, tuple):
        return
    stages, result, who = reading
    st.markdown(f"Answered by {who.description}")
    st.vega_lite_chart(probability_frame(result.probabilities[0]), probability_spec(settings.crops), width="stretch")
    _disagreement(result)
    st.html(explanation_html(stages, result.offsets[0], result.per_crop[0]))


def _disagreement(result) -> None:
    votes = result.per_crop[0].argmax(axis=1)
    if len(set(votes.tolist())) > 1:
        counts = ", ".join(f"{n} say {d}" for d, n in zip(*np.unique(votes, return_counts=True)))
        st.warning(f"The crops disagree ({counts}); the average decides.", icon=":material/call_split:")


def _new_crops() -> None:
    st.session_state["draw_seed"] = st.session_state.get("draw_seed", 0) + 1


@st.fragment
def _input_and_answer() -> None:
    """Everything that depends on the drawing: a stroke reruns only this, not the sidebar and navigation."""
    left, right = st.columns([1, 1.4], gap="large")
    keys: list = []  # a digit key pressed on the pad in this run, for the answer's buttons to take
    with left:
        source = st.segmented_control("Input", SOURCES, default=SOURCES[0], key="draw_source") or SOURCES[0]
        image = {SOURCES[0]: _drawn, SOURCES[1]: _uploaded, SOURCES[2]: _test_digit}[source](keys)
        training = answerer().training if image is not None else False
        every = 3.0 if training else None

        @st.fragment(run_every=every)
        def _live_answer() -> None:
            if image is None:
                st.info(PROMPT, icon=":material/edit:")
            else:
                _answer(image, source, keys)

        _live_answer()
    with right:

        @st.fragment(run_every=every)
        def _live_details() -> None:
            if image is not None:
                _details(image)

        _live_details()
    with left:
        if source == SOURCES[0]:
            st.slider("Stroke width", 6, 40, STROKE, key="draw_stroke")
            st.caption(
                "Write a digit with the mouse or a finger. It is turned into a 28x28 input the way MNIST digits were "
                "made (cut to its ink, fitted into 20x20, centred by its centre of mass); the network reads k 24x24 "
                "crops of it and averages their votes. **Undo** and **Clear** are under the pad."
            )
        mode, reroll = st.columns([2, 1])
        mode.radio("Crops", ["random", "fixed grid"], horizontal=True, key="draw_offsets")
        reroll.button("New crops", help="Draw new random crop positions.", on_click=_new_crops)


_input_and_answer()
