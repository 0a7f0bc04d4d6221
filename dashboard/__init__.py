"""Neo-Margin trial monitor: a blinded and a closed DuckDB warehouse built from CRF exports."""
