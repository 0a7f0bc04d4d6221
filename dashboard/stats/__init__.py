"""Statistics: one estimator or test per module, plain numpy/scipy/lifelines functions
with no DuckDB, no configuration and no Streamlit, each checked against published values."""
