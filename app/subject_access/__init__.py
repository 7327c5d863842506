"""Subject access requests: everything held about one person."""
