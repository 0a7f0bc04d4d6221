"""The warehouse on disk and reading it: build folders, the current pointer, read-only
connections, and running a named query of queries/ with its parameters."""
