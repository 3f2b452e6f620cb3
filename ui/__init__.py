"""Streamlit glue shared by the pages: the sidebar and the session's training job."""
