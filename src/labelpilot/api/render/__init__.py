"""ModelArts response shapes built from rows and domain results (the only place they are made)."""
