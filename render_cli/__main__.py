"""``python -m render_cli`` is ``avatar-render``."""

from render_cli.main import main

# Guarded: a process pool started by a fork server or spawn imports this module again.
if __name__ == "__main__":
    main()
