"""The Streamlit app: the entrypoint (main.py) and what its pages share (ui.py)."""
