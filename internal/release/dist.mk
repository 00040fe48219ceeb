# Installs lap from this archive. Nothing is downloaded or compiled: no npm,
# no network, no compiler. The files under lib/ are copied as they are, and
# each run-time package is unpacked with tar from vendor/, the tarball the
# npm registry published (vendor/MANIFEST says where each one goes).
# lap needs Node 18 or newer at run time; make install checks that first.
#
#   make install                      # /usr/local/bin/lap
#   make install PREFIX=$HOME/.local
#   make uninstall                    # honours PREFIX and DESTDIR the same way
#   make check                        # verifies every file against SHA256SUMS
#                                     # (macOS: shasum -a 256 -c SHA256SUMS)

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR = $(DESTDIR)$(PREFIX)/lib/lap
BINDIR = $(DESTDIR)$(PREFIX)/bin
NODE ?= node

.PHONY: all install uninstall check node-version

all:
	@echo 'nothing to build; run: make install PREFIX=...'

# The same line lap itself prints on an older Node.
node-version:
	@v=$$($(NODE) -p process.versions.node 2>/dev/null) || v="none (no $(NODE) on the PATH)"; [ "$${v%%.*}" -ge 18 ] 2>/dev/null || { echo "lap needs Node 18 or newer; this is Node $$v" >&2; exit 1; }

install: node-version
	rm -rf $(LIBDIR)
	mkdir -p $(LIBDIR) $(BINDIR)
	cp -R lib/. $(LIBDIR)/
	while read tgz dir; do mkdir -p "$(LIBDIR)/$$dir" && tar -xzf "vendor/$$tgz" -C "$(LIBDIR)/$$dir" --strip-components=1 --no-same-owner || exit 1; done <vendor/MANIFEST
	chmod 755 $(LIBDIR)/lap.js
	ln -sf ../lib/lap/lap.js $(BINDIR)/lap

uninstall:
	rm -f $(BINDIR)/lap
	rm -rf $(LIBDIR)

check:
	sha256sum -c SHA256SUMS
