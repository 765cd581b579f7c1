"""The task kinds' runners (registered in ``engine.runners.BUILTIN_RUNNERS``)."""
