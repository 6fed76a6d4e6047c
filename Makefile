# Thin wrapper over CMake. `make` builds into build/, `make check` runs every
# test (gcc build, then clang ASan+UBSan build with the fuzz corpus replay).
BUILD    ?= build
ASAN     ?= build-asan
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
VECTORS  ?= $(CURDIR)/../shared/vectors
PREFIX   ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build check check-fast check-asan fuzz bench demo install clean

all: build

deps:
	@./scripts/install-deps

$(BUILD)/Makefile: deps CMakeLists.txt
	cmake -S . -B $(BUILD) -DNEGOEX_VECTORS=$(VECTORS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

check-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: deps
	CC=clang cmake -S . -B $(ASAN) -DNEGOEX_SANITIZE=ON -DNEGOEX_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
	  -DNEGOEX_VECTORS=$(VECTORS) $(CMAKE_FLAGS)
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

check: check-fast check-asan

# Short libFuzzer runs of every target (not part of check: it is open-ended).
fuzz: check-asan
	./scripts/run-fuzzers $(ASAN) $${FUZZ_SECONDS:-60}

bench: build
	./scripts/run-bench $(BUILD)

demo: build
	./$(BUILD)/negoex demo --trace

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN)
