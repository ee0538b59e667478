"""``python -m render_core.cli`` is ``avatar-render``."""

from render_core.cli.main import main

main()
