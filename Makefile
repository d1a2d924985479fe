# The README's commands. Each target creates .venv if needed and installs what it uses.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: quickstart test test-fast lint format clean bench bench-module gpu-check study-mixtures study-claims

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

## Train the offline quickstart GAN on real digits (a few minutes on a CPU).
quickstart: install
	$(BIN)/python main.py fit --config configs/quickstart.yaml

## Speed of `main.py fit` as a user runs it (shipped configs, default callbacks) against a hand-written PyTorch
## loop, for each recipe family, and the start-up times; the thread rows (each family's speed with the chosen
## threads, 1, 2 and as before, idle and beside a busy process); then a folder of images through the image-folder
## loader against torchvision's ImageFolder, and the memory of listing many files (prints tables; ~15 minutes).
bench: install
	$(BIN)/python -m benchmarks.user_path
	$(BIN)/python -m benchmarks.user_path --threads --scale 0.5
	$(BIN)/python -m benchmarks.image_folder

## The LightningModule alone (no callbacks, no logger) against the same loop, on compute-heavy networks.
bench-module: install
	$(BIN)/python -m benchmarks.speed --iterations 100 --repeats 3

## On a GPU: DDP, bf16/fp16 with each loss against fp32, torch.compile, DCGAN/ResNet images/s, Inception FID, peak
## memory, as one table (at most 8 minutes). Without a GPU the same code at tiny sizes (about a minute; says "no GPU").
gpu-check: install
	$(BIN)/python -m benchmarks.gpu_check

## The selection study on the 2-D mixtures: every loss x ring/grid x 3 seeds (about 6-8 minutes on 2 CPU cores).
study-mixtures: install
	$(BIN)/python -m gan_module.study configs/studies/mixtures.yaml --jobs 2

## The six claims of Motwani & Parmar (2020) on the 2-D mixtures: 14 candidates x ring/grid, each tuned alike (8 Optuna
## trials), then 8 seeds (about 90 minutes on 2 CPU cores; docs/study.md).
study-claims: install
	$(BIN)/python -m gan_module.study configs/studies/claims_mixtures.yaml --jobs 2

## Lint, then the whole test suite, slow real-data checks included (what CI runs).
test: install-test lint
	$(BIN)/python -m pytest --durations=25

## The suite without the slow real-data checks.
test-fast: install-test
	$(BIN)/python -m pytest -m "not slow"

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf runs .pytest_cache .ruff_cache
