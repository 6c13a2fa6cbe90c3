# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DIR    ?= demo
QUERY  ?= When were the tomatoes planted?

.PHONY: run demo test lint typecheck system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama.cpp is compiled for this CPU, without AMX tile instructions: virtual machines may report AMX yet
# fault on it (SIGILL). Set LLAMA_CMAKE_ARGS to build otherwise (e.g. -DGGML_CUDA=on).
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64 amd64,$(shell uname -m)),-DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)',)

# The pinned CPU torch goes in first, so that nothing pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet "llama-cpp-python[server]>=0.3.36,<0.4"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# The daemon in the foreground over DIR; it prints how to ask it (CLI, API, OpenAI-compatible, MCP).
run: $(VENV)/.installed
	$(BIN)/ragd serve "$(DIR)"

# The one-shot path without a daemon: index, search and ask in-process.
demo: $(VENV)/.installed
	$(BIN)/ragd index "$(DIR)"
	$(BIN)/ragd search "$(QUERY)" -k 3
	$(BIN)/ragd ask "$(QUERY)"

lint: $(VENV)/.installed
	$(BIN)/ruff check .

# mypy cannot follow setuptools' package-dir mapping, so give it the installed layout.
typecheck: $(VENV)/.installed
	mkdir -p build/typecheck/ragd
	for p in index daemon connectors; do ln -sfn ../../../$$p build/typecheck/ragd/$$p; done
	cd build/typecheck && MYPYPATH=. ../../$(BIN)/mypy --config-file ../../pyproject.toml \
		-p ragd.index -p ragd.daemon -p ragd.connectors

# What the browser, tray, mail and OCR tests need from the system (Debian/Ubuntu names): installed when missing.
# Tesseract is ragd's OCR engine where it is installed (RapidOCR, from pip, otherwise; see README "What it reads").
# Dovecot is only run by the tests, on a free loopback port with a config of their own (tests/imap_server.py).
SYSTEM_PACKAGES := chromium xvfb trayer xdotool fonts-noto-cjk dovecot-imapd tesseract-ocr tesseract-ocr-jpn tesseract-ocr-jpn-vert
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@if command -v apt-get >/dev/null && ! ( command -v chromium && command -v Xvfb && command -v trayer \
		&& command -v xdotool && fc-list | grep -qi "Noto Sans CJK" \
		&& { command -v dovecot || test -x /usr/sbin/dovecot; } \
		&& command -v tesseract && tesseract --list-langs 2>/dev/null | grep -qx jpn_vert ) >/dev/null 2>&1; then \
		echo "installing $(SYSTEM_PACKAGES)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			$(SYSTEM_PACKAGES) >/dev/null; \
	fi

test: $(VENV)/.installed lint typecheck system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# Every benchmark, then bench/RESULTS.md with its plots (hours on 2 cores; not part of `make test`).
# BENCH_SIZES sets the tree sizes of the scaling run (50,000 files alone index for about two hours here).
BENCH_SIZES ?= 1000,10000,50000
BENCH := HF_HUB_OFFLINE=1 $(BIN)/python -m
bench: $(VENV)/.installed
	$(BENCH) bench.llamaindex_env
	$(BENCH) bench.index_throughput --runs 3
	$(BENCH) bench.daemon_latency
	$(BENCH) bench.scale --sizes $(BENCH_SIZES)
	$(BENCH) bench.query_latency
	$(BENCH) bench.search_under_load
	$(BENCH) bench.memory
	$(BENCH) bench.ask_overhead
	for e in use+minilm use-multilingual minilm e5-small; do $(BENCH) bench.retrieval_quality --embedder $$e; done
	$(BENCH) bench.answer_quality --dataset squad_en
	$(BENCH) bench.answer_quality --dataset jsquad_ja
	$(BENCH) bench.report

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
