# Thin wrapper over CMake. `make` builds into build/, `make check` runs every
# test (gcc build, its tests again under valgrind (label memcheck), then the
# clang ASan+UBSan build with the fuzz corpus replay, then the clang TSan
# build of tests/unit/test_threads.c).
BUILD    ?= build
ASAN     ?= build-asan
TSAN     ?= build-tsan
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
VECTORS  ?= $(CURDIR)/../shared/vectors
PREFIX   ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build check check-fast check-asan check-tsan fuzz bench demo install clean

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

# ThreadSanitizer: only the library and tests/unit/test_threads.c (8 threads,
# each running full handshakes on its own contexts). tests/tsan.supp is for
# documented false positives in uninstrumented third-party code only.
check-tsan: deps
	CC=clang cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEGOEX_GSS=OFF \
	  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
	  -DNEGOEX_VECTORS=$(VECTORS) $(CMAKE_FLAGS)
	cmake --build $(TSAN) -j $(JOBS) --target test_threads
	cd $(TSAN) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -R '^test_threads$$'

check: check-fast check-asan check-tsan

# Short libFuzzer runs of every target (not part of check: it is open-ended).
fuzz: check-asan
	./scripts/run-fuzzers $(ASAN) $${FUZZ_SECONDS:-60}

bench: build
	./scripts/run-bench $(BUILD)

# SPNEGO -> NEGOEX -> PKU2U between a user and a device (a test PKI made in
# memory), one block per leg; `build/negoex demo --trace` for every field.
demo: build
	./$(BUILD)/negoex demo

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN)
