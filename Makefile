# VocaFuse recorder. `make demo` to try it, `make test` to check it; see README.md.

GO       ?= go
BUILD    := build
SDK      := $(BUILD)/sdk
GOROOT   := $(shell $(GO) env GOROOT)
WASMEXEC := $(GOROOT)/lib/wasm
# Release flags: no symbol table, no DWARF, no local paths.
WASMBUILD := GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w'
APT_PACKAGES := chromium firefox-esr espeak-ng sox ffmpeg
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME ?= 10s
ADDR     ?= 127.0.0.1:8080

.PHONY: all build sdk server demo test test-go test-fuzz test-wasm test-browser deps size bench fuzz clean

all: build

build: sdk server

# The SDK: the wasm, Go's matching wasm_exec.js, the shim in both flavours, the types,
# and precompressed twins of the wasm for the server to send.
sdk:
	@mkdir -p $(SDK)
	$(WASMBUILD) -o $(SDK)/vocafuse.wasm ./wasm
	cp $(WASMEXEC)/wasm_exec.js $(SDK)/wasm_exec.js
	$(GO) run ./wasm/cmd/catalogjson > $(BUILD)/catalog.json
	node js/build.mjs $(BUILD)/catalog.json $(SDK)
	$(GO) run ./wasm/cmd/wasmsize -write $(SDK)/vocafuse.wasm

server:
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $(BUILD)/vocafuse-demo ./demo

demo: build
	$(BUILD)/vocafuse-demo --addr $(ADDR)

# Everything the tests need, installed only where missing.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ ! -d js/node_modules ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then \
	  cd js && npm ci --no-audit --no-fund; \
	fi

test: deps build test-go test-fuzz test-wasm test-browser

test-go:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# Each fuzz target for a short fixed time; `make fuzz FUZZTIME=5m` for longer.
test-fuzz fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvelope$$' -fuzztime $(FUZZTIME) ./wasm/catalog
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) ./wasm/catalog
	$(GO) test -run '^$$' -fuzz '^FuzzProbe$$' -fuzztime $(FUZZTIME) ./wasm/audio
	$(GO) test -run '^$$' -fuzz '^FuzzDurationPatch$$' -fuzztime $(FUZZTIME) ./wasm/audio
	$(GO) test -run '^$$' -fuzz '^FuzzEncoder$$' -fuzztime $(FUZZTIME) ./wasm/audio/wav
	$(GO) test -run '^$$' -fuzz '^FuzzValidUTF8$$' -fuzztime 3s ./wasm/catalog
	$(GO) test -run '^$$' -fuzz '^FuzzReplaceAll$$' -fuzztime 3s ./wasm/upload

# The Go packages again, compiled to wasm and run under Node, including the glue's tests.
test-wasm:
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 ./wasm/...

# The browser tests also load the crashtest program, the SDK with a way to die.
test-browser: build
	$(WASMBUILD) -o js/test/pages/generated/crashtest.wasm ./wasm/cmd/crashtest
	cd js && node --test --test-concurrency=1 test/*.test.mjs

size:
	@mkdir -p $(BUILD)
	$(WASMBUILD) -o $(BUILD)/bare.wasm ./wasm/cmd/bare
	$(WASMBUILD) -o $(SDK)/vocafuse.wasm ./wasm
	@$(GO) run ./wasm/cmd/wasmsize -base $(BUILD)/bare.wasm $(SDK)/vocafuse.wasm

# Parsing, repair and encoding benchmarks, then the server's load run with its figures.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	VOCAFUSE_BENCH=1 $(GO) test -count=1 -v -run '^TestLoad(ConcurrentUploads|SlowClients)$$' ./demo | grep -E 'concurrent uploads|slow clients|^(ok|FAIL)'

clean:
	rm -rf $(BUILD) .vocafuse-data
