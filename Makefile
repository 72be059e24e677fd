# Thin wrapper over CMake: the targets a user types.
#   make          build build/countersign
#   make run      install what is missing, build, init a demo and serve it
#   make check    install what is missing, build, run the suite normally and under ASan+UBSan
#   make fuzz     build the libFuzzer targets and run each briefly
#   make bench    run the benchmarks under bench/
#   make difftest-long   the long differential run against the Cedar reference
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_FLAGS = $(if $(CS_WERROR),-DCS_WERROR=ON,)

.PHONY: all deps build asan check test test-asan fuzz bench run difftest-long format clean

all: build

deps:
	@scripts/install-deps

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

check: deps
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

FUZZ_SECONDS ?= 60
fuzz:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	@scripts/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: deps build
	@scripts/run-bench $(BUILD)

difftest-long: deps build
	CS_DIFF_CASES=$${CS_DIFF_CASES:-200000} CS_DIFF_SEED=$${CS_DIFF_SEED:-4242} node tests/cedar_diff/difftest.mjs $(BUILD)/tests/cedar_diff/cedar_diff_runner

run: deps build
	@scripts/run-demo $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
