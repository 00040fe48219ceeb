# Installs lap from this archive. Nothing is downloaded or compiled: no npm,
# no network, no compiler; the files under lib/ are copied as they are.
# lap needs Node 18 or newer at run time.
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

.PHONY: all install uninstall check

all:
	@echo 'nothing to build; run: make install PREFIX=...'

install:
	rm -rf $(LIBDIR)
	mkdir -p $(LIBDIR) $(BINDIR)
	cp -R lib/. $(LIBDIR)/
	chmod 755 $(LIBDIR)/lap.js
	ln -sf ../lib/lap/lap.js $(BINDIR)/lap

uninstall:
	rm -f $(BINDIR)/lap
	rm -rf $(LIBDIR)

check:
	sha256sum -c SHA256SUMS
