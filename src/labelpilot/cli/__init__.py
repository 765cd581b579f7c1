"""The ``labelpilot`` command line."""
