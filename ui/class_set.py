"""The For teachers page's class set: the digits students shared, counted, and how two networks read them."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from mnist_core.data.own_digits import unavailable_reason
from mnist_core.inspection.evaluation import evaluate
from mnist_core.lessons import CLASS_SET_TASK, class_set_query
from mnist_core.settings import TrainSettings
from mnist_core.store import RunStore, StoreError
from ui.markdown import escape_markdown
from ui.models import pretrained
from ui.run_store import run_store
from ui.sidebar import SETTINGS

_BEST = "class_set_best_run"  # (run id, InferenceModel): the best shared run's network, built once
_LOG = logging.getLogger(__name__)


def class_set_section(root: str, settings_params: dict[str, str], task: str = "") -> None:
    """The class set's counts and scores, and the lesson link that trains with it (`root`: the app's address;
    `settings_params`: the sidebar's settings as link parameters; `task`: the teacher's, else the default one)."""
    st.subheader("The class set")
    st.caption(
        "Digits students shared from their My digits page, with the nickname they chose: your class's own "
        "handwriting, which a network at 99% on MNIST may read noticeably worse."
    )
    store = run_store()
    try:
        counts = store.digits.class_counts()
        shared = store.digits.class_set()
    except StoreError as exc:
        st.error(f"**The class set cannot be read now.** {escape_markdown(str(exc))}", icon=":material/cloud_off:")
        return
    _lesson_link(root, settings_params, task, counts.total)
    if not counts.total:
        st.info("No digits are shared yet.", icon=":material/group:")
        return
    per_label = pd.DataFrame({"digit": [str(d) for d in counts.by_label], "digits": list(counts.by_label.values())})
    left, right = st.columns(2)
    left.bar_chart(per_label, x="digit", y="digits", height=220)
    right.dataframe(
        pd.DataFrame({"nickname": list(counts.by_nickname), "digits": list(counts.by_nickname.values())}),
        hide_index=True,
        width="stretch",
        height=220,
    )
    _, x, y = shared.arrays()
    k = (st.session_state.get(SETTINGS) or TrainSettings()).crops
    scores = st.columns(2)
    scores[0].metric(
        "The pretrained network reads it", f"{evaluate(pretrained().model.predict, x, y, k, seed=0).accuracy:.1%}"
    )
    best = _best_shared_run(store)
    if best is None:
        scores[1].metric("The best shared run reads it", "–", help="No shared run with weights yet.")
    else:
        run_id, nickname, model = best
        accuracy = evaluate(model.predict, x, y, k, seed=0).accuracy
        scores[1].metric(f"Run {run_id} ({nickname}), the best shared run, reads it", f"{accuracy:.1%}")
    st.caption(f"{counts.total:,} digits; accuracy with the {k}-crop average.")


def _best_shared_run(store: RunStore):
    """(id, nickname, InferenceModel) of the best-scoring shared run with weights, or None."""
    try:
        board = [s for s in store.board() if s.has_weights]
        if not board:
            return None
        best = board[0]
        held = st.session_state.get(_BEST)
        if held is None or held[0] != best.id:
            stored = store.get(best.id)
            if stored is None:
                return None
            from mnist_core.inspection.inference import InferenceModel
            from mnist_core.model.architecture import build_model

            layers = stored.layers()
            model = build_model(layers, best.train_settings(layers).seed)
            model.set_weights(stored.weights())
            held = (best.id, InferenceModel(model))
            st.session_state[_BEST] = held
        return best.id, best.nickname or "", held[1]
    except StoreError as exc:
        _LOG.warning("The best shared run cannot be read: %s", exc)
        return None


def _lesson_link(root: str, settings_params: dict[str, str], task: str, count: int) -> None:
    """The link that opens a lesson training with the class set (the switch on and locked)."""
    link = f"{root}?{class_set_query(settings_params, task.strip() or CLASS_SET_TASK)}"
    st.markdown("**A lesson that trains with the class set**")
    st.code(link, language=None, wrap_lines=True)
    st.link_button("Open the class-set lesson (new tab)", link, icon=":material/open_in_new:")
    if reason := unavailable_reason(count, class_set=True):
        st.caption(f":material/info: {escape_markdown(reason)} Until then the lesson's runs train on MNIST alone.")
