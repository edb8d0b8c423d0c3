# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install browser demo test lint bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/mizan demo

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The console's tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@test -x /usr/bin/chromium || apt-get install -y chromium

test: lint browser
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/classifier_speed.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
