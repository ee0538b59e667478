"""The ``avatar-render`` command line."""
