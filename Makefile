# Aldis front door. `make run` and `make test` install what is missing
# (as root on Debian 12), build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
INSTANCE ?= var

.PHONY: all deps build run test test-quick clean bench

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@if command -v npm >/dev/null 2>&1; then tests/web/run.sh build; fi

run: build
	@if [ ! -f $(INSTANCE)/aldis.yaml ]; then \
	  $(BUILD)/aldisctl init --dir $(INSTANCE) --domain localhost; fi
	$(BUILD)/aldis --config $(INSTANCE)/aldis.yaml

# Every test: release build, then AddressSanitizer+UBSan, then the threaded
# (W=2) integration tests under ThreadSanitizer. Last line: N passed, N failed.
test: deps
	@scripts/test.sh

test-quick: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

bench: build
	@bench/compare.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan
