"""Who may see what: roles and the viewer, local accounts and single-sign-on mapping,
the hash-chained audit log, and the blinding rule for pooled cells."""
