# VocaFuse recorder. `make demo` to try it, `make test` to check it; see README.md.

GO       ?= go
BUILD    := build
SDK      := $(BUILD)/sdk
NPM      := $(BUILD)/npm
GOROOT   := $(shell $(GO) env GOROOT)
WASMEXEC := $(GOROOT)/lib/wasm
# Release flags: no symbol table, no DWARF, no local paths.
WASMBUILD := GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w'
# The local API's speech recogniser and its decoder (demo/transcribe), for make demo too.
ENGINE_PACKAGES := pocketsphinx pocketsphinx-en-us ffmpeg
# WebKit (Safari's engine): WebKitGTK's MiniBrowser and WebKitWebDriver, on a virtual display,
# with GStreamer for its media.
APT_PACKAGES := chromium firefox-esr espeak-ng sox $(ENGINE_PACKAGES) pocketsphinx-testdata \
	webkit2gtk-driver xvfb gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Fuzzing runs a number of inputs, not a duration: on Go 1.26 a duration can end in a bare
# "context deadline exceeded" on a loaded machine (the coordinator's race, fixed in 1.27).
FUZZN    ?= 1
# The wasm ships to every visitor: its brotli size may be at most this many times the
# bare program's (safejs + uuid, nothing else). make test fails over it.
SIZE_BUDGET ?= 1.3
ADDR     ?= 127.0.0.1:8080
JS_DEPS  := js/node_modules/.package-lock.json

.PHONY: all build sdk pack server demo engine test test-go test-fuzz test-wasm test-size test-browser lint deps size bench bench-go bench-browser fuzz clean clean-data

all: build

build: sdk server

# The SDK: the wasm, Go's matching wasm_exec.js, the shim in both flavours, the element,
# the types, and precompressed twins of every file a page loads, for the server to send;
# and the npm package of the same files in build/npm (make pack makes its .tgz).
sdk: $(JS_DEPS)
	@mkdir -p $(SDK)
	$(WASMBUILD) -o $(SDK)/vocafuse.wasm ./wasm
	cp $(WASMEXEC)/wasm_exec.js $(SDK)/wasm_exec.js
	$(GO) run ./wasm/cmd/shimdata > $(BUILD)/shimdata.json
	node js/build.mjs $(BUILD)/shimdata.json $(SDK) $(NPM)
	$(GO) run ./wasm/cmd/wasmsize -write $(addprefix $(SDK)/,vocafuse.wasm wasm_exec.js vocafuse.mjs vocafuse.js vocafuse-worklet.js vocafuse-recorder.mjs)

# The npm package as a .tgz in build/, the file `npm install` takes; prints its path.
pack: sdk
	@cd $(BUILD) && tgz=$$(npm pack ./npm --pack-destination . --silent) && \
	  echo "packed $(BUILD)/$$tgz: npm install $(CURDIR)/$(BUILD)/$$tgz"

server:
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $(BUILD)/vocafuse-demo ./demo

demo: build engine
	$(BUILD)/vocafuse-demo --addr $(ADDR)

# Debian packages, installed only where missing.
apt_install = missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

engine:
	@$(call apt_install,$(ENGINE_PACKAGES))

# Everything the tests need, installed only where missing.
deps:
	@$(call apt_install,$(APT_PACKAGES))
	@if [ ! -d js/node_modules ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then \
	  cd js && npm ci --no-audit --no-fund; \
	fi

# Each group prints how long it took.
test: deps build
	@$(call timed,go,$(MAKE) --no-print-directory test-go)
	@$(call timed,lint,$(MAKE) --no-print-directory lint)
	@$(call timed,fuzz,$(MAKE) --no-print-directory test-fuzz)
	@$(call timed,wasm,$(MAKE) --no-print-directory test-wasm)
	@$(call timed,size,$(MAKE) --no-print-directory test-size)
	@$(call timed,browser,$(MAKE) --no-print-directory test-browser)

timed = s=$$(date +%s); $(2) || exit $$?; echo "== test group $(1): $$(( $$(date +%s) - s )) s"

# Our packages: ./... would also take the Go sources an npm package ships in js/node_modules.
GO_PACKAGES = $(shell $(GO) list ./... | grep -v /node_modules/)
test-go:
	@unformatted=$$(gofmt -l wasm demo vocafuse internal docs); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(GO_PACKAGES)
	VOCAFUSE_REQUIRE_ENGINE=1 $(GO) test -race -count=1 $(GO_PACKAGES)

# The JavaScript: tsc checks the shim's sources through their JSDoc and the published
# .d.ts against them (js/tsconfig.json), and the build script (js/tsconfig.node.json);
# ESLint the shim, the build, the tests and the benchmark (js/eslint.config.mjs).
lint: $(JS_DEPS)
	cd js && node_modules/.bin/tsc -p tsconfig.json && node_modules/.bin/tsc -p tsconfig.node.json && node_modules/.bin/eslint .

# The JavaScript tools (esbuild, tsc, ESLint, the browser drivers), as js/package-lock.json pins them.
$(JS_DEPS): js/package-lock.json
	cd js && npm ci --no-audit --no-fund

# Each fuzz target for a fixed number of inputs (a few seconds each); `make fuzz FUZZN=50`
# runs fifty times as many.
test-fuzz fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvelope$$' -fuzztime $$((10000 * $(FUZZN)))x ./internal/catalog
	$(GO) test -run '^$$' -fuzz '^FuzzProbe$$' -fuzztime $$((50000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzRepair$$' -fuzztime $$((50000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzCRCIEEE$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzOggCRC$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzCodecName$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzQuote$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzEncoder$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio/wav
	$(GO) test -run '^$$' -fuzz '^FuzzReplaceAll$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzSubject$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzStorageError$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzStorageErrorMatchesXML$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzParseJSON$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBase64URL$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzTrim$$' -fuzztime $$((20000 * $(FUZZN)))x ./wasm/space
	$(GO) test -run '^$$' -fuzz '^FuzzOggCompleteLength$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzWebMCompleteLength$$' -fuzztime $$((20000 * $(FUZZN)))x ./internal/audio
	$(GO) test -run '^$$' -fuzz '^FuzzParseWordTimes$$' -fuzztime $$((20000 * $(FUZZN)))x ./demo/transcribe

# The Go packages again, compiled to wasm and run under Node, including the glue's tests.
test-wasm:
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 ./wasm/...

# The browser tests also load the crashtest program (the SDK with a way to die) and the
# panic program (the SDK with a panic injected at a boundary the page names).
# BROWSERS narrows the engines (chromium,firefox,webkit), FILES the files (paths under js/),
# SCREENSHOTS where the demo test writes its pictures (default build/screenshots;
# docs/screenshots updates the README's):
#   make test-browser BROWSERS=chromium FILES=test/outbox.test.mjs
# Two groups run side by side, each printing its time: Chromium and Firefox over every file
# but webkit.test.mjs; WebKit over the files that have WebKit tests (webkit.test.mjs and
# those written over driver.mjs), its output shown once it ends, at a lower priority (nice)
# so that the rows that time the page (long tasks, durations) in Chromium and Firefox keep
# their cores. They share no port (each server takes a free one), no profile and no
# display; the target fails if either fails.
BROWSERS ?= chromium,firefox,webkit
FILES    ?= $(patsubst js/%,%,$(wildcard js/test/*.test.mjs))
comma    := ,
BROWSER_LIST  = $(subst $(comma), ,$(BROWSERS))
PUPPETEER_ENGINES = $(subst $(eval) ,$(comma),$(strip $(filter chromium firefox,$(BROWSER_LIST))))
PUPPETEER_FILES   = $(filter-out test/webkit.test.mjs,$(FILES))
WEBKIT_FILES = $(if $(filter webkit,$(BROWSER_LIST)),$(filter $(patsubst js/%,%,$(shell grep -l -e "from './driver.mjs'" -e "from './webkit.mjs'" js/test/*.test.mjs)),$(FILES)))
WEBKIT_LOG  := $(BUILD)/test-browser-webkit.log
SCREENSHOTS_ENV = $(if $(SCREENSHOTS),SCREENSHOTS=$(abspath $(SCREENSHOTS)))
# A group's time is printed whether it passed or not.
timed_group = s=$$(date +%s); $(2); r=$$?; echo "== test group $(1): $$(( $$(date +%s) - s )) s"; exit $$r
test-browser: build pack
	$(WASMBUILD) -o js/test/pages/generated/crashtest.wasm ./wasm/cmd/crashtest
	$(WASMBUILD) -tags vocafuse_panic -o js/test/pages/generated/panic.wasm ./wasm
	@echo "engines: $$($${CHROMIUM_BIN:-/usr/bin/chromium} --version 2>/dev/null | cut -d' ' -f1-2); $$($${FIREFOX_BIN:-/usr/bin/firefox-esr} --version 2>/dev/null | cut -d' ' -f2-); WebKitGTK $$(dpkg-query -W -f '$${Version}' libwebkit2gtk-4.1-0 2>/dev/null | cut -d- -f1)"
	@rc=0; wk=; \
	if [ -n "$(strip $(WEBKIT_FILES))" ]; then \
	  echo "browser-webkit: $(strip $(WEBKIT_FILES)) (its output follows when it ends: $(WEBKIT_LOG))"; \
	  ( $(call timed_group,browser-webkit,cd js && HARNESS_BROWSERS=webkit $(SCREENSHOTS_ENV) nice -n 10 node --test --test-concurrency=1 $(WEBKIT_FILES)) ) > $(WEBKIT_LOG) 2>&1 & wk=$$!; \
	fi; \
	if [ -n "$(PUPPETEER_ENGINES)" ] && [ -n "$(strip $(PUPPETEER_FILES))" ]; then \
	  ( $(call timed_group,browser-$(subst $(comma),-,$(PUPPETEER_ENGINES)),cd js && HARNESS_BROWSERS=$(PUPPETEER_ENGINES) $(SCREENSHOTS_ENV) node --test --test-concurrency=1 $(PUPPETEER_FILES)) ) || rc=1; \
	fi; \
	if [ -n "$$wk" ]; then wait $$wk || rc=1; cat $(WEBKIT_LOG); fi; \
	exit $$rc

# The size budget, checked as part of make test; make size prints where the bytes go too.
test-size: SIZE_FLAGS = -budget $(SIZE_BUDGET)
size: SIZE_FLAGS = -budget $(SIZE_BUDGET) -where $(BUILD)/bare.debug.wasm,$(BUILD)/vocafuse.debug.wasm
test-size size:
	@mkdir -p $(BUILD) $(SDK)
	$(WASMBUILD) -o $(BUILD)/bare.wasm ./wasm/cmd/bare
	$(WASMBUILD) -o $(SDK)/vocafuse.wasm ./wasm
	GOOS=js GOARCH=wasm $(GO) build -trimpath -o $(BUILD)/bare.debug.wasm ./wasm/cmd/bare
	GOOS=js GOARCH=wasm $(GO) build -trimpath -o $(BUILD)/vocafuse.debug.wasm ./wasm
	@$(GO) run ./wasm/cmd/wasmsize $(SIZE_FLAGS) -base $(BUILD)/bare.wasm $(SDK)/vocafuse.wasm

# Parsing, repair and encoding benchmarks, the server's load run with its figures, then
# what a page pays in a browser (js/bench/browser.mjs). Each installs what it needs where
# it is missing: the recogniser and its recordings; the JS tools, Chromium and the speech
# its fake microphone plays.
bench: bench-go bench-browser

bench-go: engine
	@$(call apt_install,pocketsphinx-testdata)
	$(GO) test -run '^$$' -bench . -benchmem $(GO_PACKAGES)
	VOCAFUSE_BENCH=1 $(GO) test -count=1 -v -run '^(TestLoad(ConcurrentUploads|SlowClients)|TestManyWebhooksStayBounded|TestDeadWebhookLeavesTheStoreSmall)$$' ./demo | grep -E 'concurrent uploads|slow clients|webhooks ×|dead webhook|^(ok|FAIL)'
	VOCAFUSE_BENCH=1 VOCAFUSE_REQUIRE_ENGINE=1 $(GO) test -count=1 -v -run '^TestWERTable$$' ./demo/transcribe | grep -vE '^(=== RUN|--- PASS)'

# The SDK as the demo server sends it, beside the bare program, the yardstick of size and
# of start-up (BENCH_SDK: another directory, for two runs at once).
BENCH_SDK ?= $(BUILD)/bench-sdk
bench-browser: build $(JS_DEPS)
	@$(call apt_install,chromium espeak-ng sox)
	@rm -rf $(BENCH_SDK) && mkdir -p $(BENCH_SDK)
	cp $(SDK)/* $(BENCH_SDK)/
	$(WASMBUILD) -o $(BENCH_SDK)/bare.wasm ./wasm/cmd/bare
	$(GO) run ./wasm/cmd/wasmsize -write $(BENCH_SDK)/bare.wasm
	cd js && node bench/browser.mjs $(abspath $(BENCH_SDK))

# The build output only: the local API's data (.vocafuse-data: its keys and your notes)
# stays; make clean-data deletes it.
DATA := .vocafuse-data
clean:
	rm -rf $(BUILD)
	@if [ -d $(DATA) ]; then echo "kept $(DATA)/ (the local API's keys and notes): make clean-data deletes it"; fi

clean-data:
	rm -rf $(DATA)
	@echo "deleted $(DATA)/: the local API's keys and stored notes"

