#!/bin/sh
# Builds dist/lap-<version>.tar.gz from an existing build/ (make dist runs
# make build first): the files make install installs, the registry tarball of
# each run-time package (vendor/, checked against package-lock.json), the
# Makefile that installs them offline (internal/release/dist.mk), the bill of
# materials (sbom.cdx.json), README.md, LICENSE and SHA256SUMS.
#
#   sh internal/release/dist.sh OUTDIR MODULE...   (MODULE: the Makefile's RUNTIME list)
#
# The archive is reproducible: the same commit gives the same bytes. Every
# entry carries the commit's time, owner 0/0, mode 0644 (0755 for
# directories and lap.js), in name order, and gzip stores no name or time.
# Needs GNU tar (for --sort) and sha256sum; the first run needs npm to fetch
# the tarballs (kept in node_modules/.cache/lap-dist, so later runs are offline).
set -eu

out=$1
shift
version=$(node -p 'require("./package.json").version')
name=lap-$version
# The commit's time, not the wall clock, so that rebuilding changes nothing.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

tar --version 2>/dev/null | grep -q 'GNU tar' || {
	echo "dist: needs GNU tar (reproducible archives use --sort=name)" >&2
	exit 1
}
[ -f build/lap.js ] || {
	echo "dist: build/lap.js is missing; run make build" >&2
	exit 1
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/$name
lib=$root/lib

# lib/ is laid out as make install lays out $PREFIX/lib/lap, but for the
# run-time packages: make install unpacks those from vendor/.
mkdir -p "$lib/internal"
cp build/lap.js build/version.json "$lib/"
for module in "$@"; do
	cp "build/internal/$module.js" "$lib/internal/"
done
printf '{"type":"commonjs","private":true}\n' >"$lib/package.json"
node build/internal/release/vendor.js --out "$root/vendor"
cp internal/release/dist.mk "$root/Makefile"
cp README.md LICENSE "$root/"

# A tree with uncommitted changes must not pass for the commit itself.
commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain)" ]; then
	commit=$commit-dirty
	node -e 'const f=process.argv[1],fs=require("fs"),v=JSON.parse(fs.readFileSync(f,"utf8"));
if(!v.commit.endsWith("-dirty"))v.commit+="-dirty";fs.writeFileSync(f,JSON.stringify(v)+"\n")' "$lib/version.json"
	echo "dist: the working tree has uncommitted changes; version says $(cat "$lib/version.json")" >&2
fi
node build/internal/release/sbom.js --commit "$commit" --epoch "$epoch" >"$root/sbom.cdx.json"

# Modes are set here rather than inherited from the umask and the checkout.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
chmod 0755 "$lib/lap.js"

(cd "$root" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) >"$stage/SHA256SUMS"
mv "$stage/SHA256SUMS" "$root/SHA256SUMS"
chmod 0644 "$root/SHA256SUMS"

mkdir -p "$out"
LC_ALL=C tar --create --format=gnu --sort=name --mtime="@$epoch" \
	--owner=0 --group=0 --numeric-owner -C "$stage" "$name" |
	gzip -n -9 >"$out/$name.tar.gz.tmp"
mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
echo "$out/$name.tar.gz"
