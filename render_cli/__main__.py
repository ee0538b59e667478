"""``python -m render_cli`` is ``avatar-render``."""

from render_cli.main import main

main()
