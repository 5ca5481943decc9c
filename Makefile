# The project's commands. Each builds the environment first when needed (scripts/setup-env is
# idempotent and cached: seconds when nothing changed).
IN_ENV := scripts/in-env

.PHONY: help setup test test-fast lint demo clean-env

help:
	@echo "make setup      build the project environment in .venv (ROS 2 wheels, PyTorch, messages)"
	@echo "make test       lint, then the whole test suite (sets up first when needed)"
	@echo "make test-fast  the suite without the tests marked slow"
	@echo "make lint       ruff"
	@echo "make demo       the node tracking a held-out synthetic video played in as ROS messages (outputs/demo)"
	@echo "make clean-env  remove the environment (.venv)"

setup:
	@scripts/setup-env

lint: setup
	$(IN_ENV) ruff check .

test: lint
	$(IN_ENV) python -m pytest

test-fast: lint
	$(IN_ENV) python -m pytest -m "not slow"

demo: setup
	$(IN_ENV) siamrcnn-demo --output-dir outputs/demo

clean-env:
	rm -rf .venv
