"""The warehouse build: opening an export package, the raw, typed and clean layers,
cross-form checks, findings, derived tables and publishing (build.py orchestrates)."""
