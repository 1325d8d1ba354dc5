# Two commands do everything on a fresh machine:
#   make demo   - the whole study (2 models x 3 activations x seeds) on the embedded synthetic set
#   make test   - the test suite (reads real EEG from ../shared/data, or $EEGCLF_DATA)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export EEGCLF_DATA ?= $(abspath ../shared/data)

.PHONY: install demo test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m eegclf compare --dataset synthetic --epochs 30 --seeds 3 --out demo
	@echo "Report: demo/report.md (figures in demo/figures/)"

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) demo
