# Falaj: `make up` to run it, `make test` to test it. See README.md.
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
DATA_DIR ?= data
LISTEN ?= 127.0.0.1:8080
PYTHON := .venv/bin/python
CMAKE_COMMON := -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

.PHONY: deps build build-asan up down test test-unit test-integration test-asan bench fuzz format clean

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR)

build-asan: deps
	@cmake -S . -B $(ASAN_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug -DFALAJ_SANITIZE=ON \
	  -DFALAJ_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_DIR)

up: build
	@scripts/falaj-up $(BUILD_DIR)/falaj $(DATA_DIR) $(LISTEN)

down:
	@scripts/falaj-down $(DATA_DIR)

# Every suite: unit tests and integration tests on the Release build, then both again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
test: build build-asan
	@$(MAKE) --no-print-directory test-unit BUILD=$(BUILD_DIR)
	@$(MAKE) --no-print-directory test-integration BUILD=$(BUILD_DIR)
	@$(MAKE) --no-print-directory test-unit BUILD=$(ASAN_DIR)
	@$(MAKE) --no-print-directory test-integration BUILD=$(ASAN_DIR)

test-unit:
	@cd $(BUILD) && ctest --output-on-failure -j2

test-integration:
	@FALAJ_BINARY=$(abspath $(BUILD))/falaj $(PYTHON) -m pytest -q tests/integration

bench: build
	@bench/http_ceiling $(BUILD_DIR)/falaj
	@bench/serving_ceiling $(BUILD_DIR)/falaj
	@$(BUILD_DIR)/bench/request_path_bench --benchmark_min_time=0.2
	@$(PYTHON) bench/models/make_models.py $(BUILD_DIR)/bench/models >/dev/null
	@FALAJ_BENCH_MODELS=$(BUILD_DIR)/bench/models $(BUILD_DIR)/bench/trees_bench --benchmark_min_time=0.5
	@$(BUILD_DIR)/bench/batcher_bench --benchmark_min_time=0.2

# Every libFuzzer harness in tests/fuzz/, built with clang-19 into build-fuzz/, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/build_and_run.sh

format:
	@clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'bench/*.cc')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
