"""MNIST Live: the entrypoint. Sets up the shared sidebar and the pages."""

import streamlit as st

from mnist_core.runtime.memory import map_large_blocks
from ui.browser_id import keep_browser_id
from ui.sidebar import sidebar_settings
from ui.snapshots import snapshot_panel
from ui.startup import start_warm_up
from ui.streamlit_workarounds import keep_keras_session

map_large_blocks()  # before TensorFlow and MNIST allocate: freed large buffers go back to the system
keep_keras_session()

st.set_page_config(page_title="MNIST Live", page_icon=":material/draw:", layout="wide")
page = st.navigation(
    [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", default=True),
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
        st.Page("pages/compare.py", title="Compare optimizers", icon=":material/compare_arrows:"),
        st.Page("pages/inside.py", title="Inside the network", icon=":material/neurology:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
        st.Page("pages/digits.py", title="My digits", icon=":material/gesture:", url_path="digits"),
        st.Page("pages/teachers.py", title="For teachers", icon=":material/school:", url_path="teachers"),
    ]
)
sidebar_settings()
snapshot_panel()
try:
    page.run()
finally:
    start_warm_up()  # after the page is sent: TensorFlow's import holds the interpreter lock that drawing it needs
keep_browser_id()  # whose runs the Runs page shows: this browser's id, kept in a cookie (an empty element, last)
