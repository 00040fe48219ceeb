# lap — build, test, install. `make test` and `make demo` work on a fresh clone:
# they install the development dependencies themselves (npm ci) when missing.

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR = $(DESTDIR)$(PREFIX)/lib/lap
BINDIR = $(DESTDIR)$(PREFIX)/bin

# What runs at run time: the entry and every internal/*.ts but the tests.
# Everything in a subfolder of internal/ (the local platform, harnesses,
# benchmark, test helpers, release scripts) stays in the checkout.
RUNTIME = $(sort $(filter-out %_test,$(basename $(notdir $(wildcard internal/*.ts)))))
# A test that hangs fails after this long instead of holding up the run.
TEST_TIMEOUT_MS = 300000
TESTS = $(wildcard internal/*_test.ts internal/*/*_test.ts)

NODE ?= node
BIN = node_modules/.bin

.PHONY: all deps build print-runtime test unit install uninstall demo clean record golden dist deptree bench

all: build

# npm ci when node_modules is missing or older than the lock file.
deps: node_modules/.installed
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# build/ is emptied first, so a module that moved or went cannot linger there.
build: deps
	rm -rf build
	$(BIN)/tsc -p .
	@$(NODE) -e 'const p=require("./package.json");const c=require("child_process");let h="unknown";try{h=c.execSync("git rev-parse --short HEAD",{stdio:["ignore","pipe","ignore"]}).toString().trim()}catch{};require("fs").writeFileSync("build/version.json",JSON.stringify({version:p.version,commit:h})+"\n")'
	chmod +x build/lap.js

# make test runs the tests as make build compiled them (build/**/*_test.js):
# a test process then starts without loading TypeScript, a saving of most of
# a second of CPU per file. c8 maps the coverage back to internal/*.ts through
# the source maps. One file alone: node --import tsx --test internal/x_test.ts.
# Test files run TEST_CONCURRENCY at a time: most of their time is spent
# waiting on sockets, timers and shells, not on the CPU. PTYHOST_PYTHON is
# the real python3, found once, so no test process starts a version-manager
# shim (a bash script) to find it again.
TEST_CONCURRENCY ?= 3
test: build
	PTYHOST_PYTHON="$$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" \
	$(BIN)/c8 --check-coverage --lines 90 --include 'build/internal/*.js' --exclude 'build/internal/*_test.js' \
		--include 'internal/*.ts' --exclude 'internal/*_test.ts' --reporter text-summary \
		$(NODE) --test --test-concurrency=$(TEST_CONCURRENCY) --test-timeout=$(TEST_TIMEOUT_MS) $(TESTS:%.ts=build/%.js)

install: build
	rm -rf $(LIBDIR)
	mkdir -p $(LIBDIR)/internal $(LIBDIR)/node_modules $(BINDIR)
	cp build/lap.js build/version.json $(LIBDIR)/
	cp $(RUNTIME:%=build/internal/%.js) $(LIBDIR)/internal/
	printf '{"type":"commonjs","private":true}\n' > $(LIBDIR)/package.json
	cp -R node_modules/ws $(LIBDIR)/node_modules/ws
	chmod 755 $(LIBDIR)/lap.js
	ln -sf ../lib/lap/lap.js $(BINDIR)/lap

# A real shell on a real PTY behind a local platform, through the real lap.
demo: build
	$(NODE) build/internal/platform/demo.js

# Replays every recording in testdata/frames (or FRAMES=<dir>) against the
# bridge three ways; UPDATE=1 rewrites the NAME.golden transcripts.
FRAMES ?= testdata/frames
golden: build
	$(NODE) build/internal/golden/golden.js $(if $(filter 1,$(UPDATE)),--update) $(FRAMES)

# Re-records the real-program scenarios (real lap on a real PTY, local
# platform) into testdata/frames; replay them with make golden UPDATE=1.
record: build
	$(NODE) build/internal/golden/golden_record.js testdata/frames

# dist/lap-<version>.tar.gz: what make install installs, the registry tarball
# of ws (vendor/, checked against package-lock.json; kept in
# node_modules/.cache/lap-dist so only the first run needs npm's cache or the
# registry), a Makefile that installs it all offline, the CycloneDX SBOM
# (sbom.cdx.json), README, LICENSE and SHA256SUMS; the same bytes every time
# for a commit. DIST=<dir> writes it elsewhere.
DIST ?= dist
dist: build
	sh internal/release/dist.sh $(DIST) $(RUNTIME)

# Prints the runtime dependency tree from package-lock.json, as in the README's
# "For auditors" section; UPDATE=1 rewrites that block of README.md.
deptree: build
	$(NODE) build/internal/release/deptree.js $(if $(filter 1,$(UPDATE)),--update README.md)

# lap against the physical floor, in one run: prints a table and writes
# BENCHMARKS.md. Not a test: a missed target is reported, never fatal.
# BENCH_QUICK=1 scales the sizes down; BENCH_ONLY=startup,keys,... runs some.
bench: build
	$(NODE) build/internal/bench/bench.js

# The shipped modules, for the test that checks the archive, npm pack (package.json
# "files") and the coverage gate against the one rule: internal/*.ts but the tests.
print-runtime:
	@echo $(RUNTIME)

uninstall:
	rm -f $(BINDIR)/lap
	rm -rf $(LIBDIR)

clean:
	rm -rf build coverage dist
