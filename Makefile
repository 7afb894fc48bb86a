# Entry points. Each target runs scripts/setup.sh first, so a fresh Debian bookworm machine needs
# nothing else: `make demo` (the main job) and `make test` (build and pass the tests).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup build data demo search-demo train-demo test bench clean

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

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bin/ern-bench-inference
	$(BUILD)/bin/ern-bench-inference --width 16 --enc 1,1,1,1 --middle 1 --dec 1,1,1,1 --size 512

clean:
	rm -rf $(BUILD)
