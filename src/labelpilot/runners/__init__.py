"""The task kinds' runners (registered in ``tasks.kinds.BUILTIN_KINDS``)."""
