# Entry points. Each target runs scripts/setup.sh first, so a fresh Debian bookworm machine needs
# nothing else: `make demo` (the main job) and `make test` (build and pass the tests).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup build data demo search-demo train-demo report-demo report-check test bench fuzz clean

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

data: setup
	bash scripts/prepare-data.sh

demo: build data
	bash scripts/demo.sh

search-demo: build data
	bash scripts/search-demo.sh

train-demo: build data
	bash scripts/train-demo.sh

# A small Pareto sweep, then a search report and the sweep's front as HTML pages (out/report-demo).
report-demo: build data
	bash scripts/report-demo.sh

# The same pages opened in headless Chromium (installed when missing): every figure must render.
report-check: report-demo
	bash scripts/check-report-in-browser.sh out/report-demo/report.html out/report-demo/front.html

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The shipped default model vs OpenCV NLM (holdout quality, time at 256x256); forward passes of the
# fused engine vs the expert peers (eager channels-last and frozen TorchScript), in G MAC/s beside
# the machine's roof: the paper-scale NAFNet-32 and the shipped ERN-Net, at 256 to 1024; Denoise
# vs the bare forward.
DEMO_ARCH = --width 16 --enc 2,2,2,2 --middle 2 --dec 2,2,2,2
# Serving: the main job's ERN-Net when `make demo` has run, else the shipped default.
DEMO_MODEL = $(patsubst %/model.json,%,$(firstword $(wildcard out/demo/coordinator/artifacts/models/*/model.json)))
bench: build data
	$(BUILD)/bin/ern-bench-quality --images data/images/holdout
	$(BUILD)/bin/ern-bench-inference --sizes 256,512,1024 --repeats 5
	$(BUILD)/bin/ern-bench-inference --model models/ern-net --sizes 256,512,1024
	$(BUILD)/bin/ern-bench-serving --model $(or $(DEMO_MODEL),models/ern-net) --images data/images/val
	$(BUILD)/bin/ern-bench-gang $(DEMO_ARCH) --images data/images/train

# libFuzzer targets (fuzz/) for FUZZ_SECONDS each; make test runs them for a 3 s smoke.
FUZZ_SECONDS ?= 60
fuzz: setup
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
