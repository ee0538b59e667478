.PHONY: setup demo test check
setup:
	scripts/setup
demo:
	scripts/demo
test:
	scripts/test
check:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
