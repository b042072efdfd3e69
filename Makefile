# One command sets everything up and runs citebot; one sets everything up and runs the tests.
#   make run    install into .venv, build the index from corpus/, then run the Telegram bot
#               (TELEGRAM_BOT_TOKEN set) or else the terminal chat
#   make test   install into .venv, run the test suite
#   make bench  install into .venv, print speed figures (bench/ask_latency.py, bench/bot_latency.py)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup run test bench calibrate clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel on this disk, not a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

setup: $(INSTALLED)

run: setup
	$(BIN)/citebot index
	$(BIN)/citebot serve

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/ask_latency.py
	$(BIN)/python bench/bot_latency.py

calibrate: setup
	$(BIN)/python bench/calibrate.py

clean:
	rm -rf $(VENV) .citebot .pytest_cache
