# Forgeline — two set-up commands: `make demo` and `make test`. Everything else is set up by them.
# `make test` runs against ComfyUI 0.3.75 (.host/ComfyUI, or your own with COMFYUI_PATH=/path/to/ComfyUI);
# `make test-newest` runs the host, e2e and browser tiers against ComfyUI 0.33.0 (.host/newest, its own venv).
PY := .venv/bin/python
NEWEST_PY := .host/newest/venv/bin/python
NEWEST_ENV := COMFYUI_PATH=$(CURDIR)/.host/newest/ComfyUI
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup setup-newest fixtures test test-newest test-unit test-host test-e2e test-reliability demo bench bench-newest lint workflows clean-host

setup:                       ## venv + torch + ComfyUI host + requirements (idempotent, seconds when done)
	bash scripts/setup_host.sh

fixtures: setup              ## generate the random-weight stand-in models and LoRA files (cached)
	$(PY) scripts/make_fixtures.py

test: setup fixtures         ## unit, host and e2e tiers (e2e boots a real ComfyUI server)
	bash scripts/setup_browser.sh
	$(PY) -P -m pytest tests -q

setup-newest:                ## ComfyUI 0.33.0 from ../shared/hosts + its own venv in .host/newest (idempotent)
	bash scripts/setup_host.sh newest

test-newest: setup-newest    ## host, e2e, reliability and browser tiers against ComfyUI 0.33.0 (fixtures shared via .cache)
	bash scripts/setup_browser.sh
	$(NEWEST_ENV) $(NEWEST_PY) scripts/make_fixtures.py
	$(NEWEST_ENV) $(NEWEST_PY) -P -m pytest tests/host tests/e2e tests/reliability tests/browser -q

test-unit: setup
	$(PY) -P -m pytest tests/unit -q

test-host: setup fixtures
	$(PY) -P -m pytest tests/host -q

test-e2e: setup fixtures
	$(PY) -P -m pytest tests/e2e -q

test-reliability: setup fixtures  ## bad graphs, hostile LoRA files, soak (FORGELINE_SOAK_JOBS=100 for the full run)
	$(PY) -P -m pytest tests/reliability -q

demo: setup fixtures         ## boot ComfyUI with Forgeline, run every bundled workflow, write out/
	$(PY) scripts/demo.py

bench: setup fixtures        ## pack-vs-native pairs side by side → bench/RESULTS.md, bench/results.json
	$(PY) bench/run.py

bench-newest: setup-newest  ## the same pairs on ComfyUI 0.33.0 (a second table in bench/RESULTS.md)
	$(NEWEST_ENV) $(NEWEST_PY) scripts/make_fixtures.py
	$(NEWEST_ENV) $(NEWEST_PY) bench/run.py

workflows: setup fixtures    ## regenerate example_workflows/api/ from the UI workflows via /object_info
	$(PY) scripts/make_workflows.py --api

lint:
	$(PY) -m ruff check .

clean-host:
	rm -rf .host .cache
