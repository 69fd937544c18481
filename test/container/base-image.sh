#!/usr/bin/env bash
# Builds the Containerfile's base image locally, for machines that reach Debian's mirrors but
# no container registry (this project's CI): debootstrap's minbase of Debian 12 (bookworm),
# trimmed the way Docker's official debian:bookworm-slim is (no documentation, manual pages or
# translations; apt keeps no package lists or downloaded packages), imported into podman under
# the name the Containerfile uses, docker.io/library/debian:bookworm-slim, so that `FROM`
# resolves here and the Containerfile stays the one a Docker user builds against the real image.
#
#   test/container/base-image.sh            # builds it unless podman already has it
#   test/container/base-image.sh --force    # builds it again
#
# Needs root, debootstrap and podman (Debian packages). A local image of that name shadows the
# registry's: `podman rmi docker.io/library/debian:bookworm-slim` gives it back.
set -euo pipefail

BASE=docker.io/library/debian:bookworm-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "${1:-}" != --force ] && podman image exists "$BASE"; then
  echo "base: $BASE present ($(podman image inspect --format '{{.Created}}' "$BASE"))"
  exit 0
fi
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "base: FAILED: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done

root=$(mktemp -d /tmp/idp-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base: debootstrap --variant=minbase bookworm ($MIRROR)"
debootstrap --variant=minbase bookworm "$root/fs" "$MIRROR" >"$root/debootstrap.log" 2>&1 \
  || { tail -20 "$root/debootstrap.log" >&2; echo "base: FAILED: debootstrap" >&2; exit 1; }

fs=$root/fs
# Docker's slim variant (debuerreotype --slimify): dpkg leaves these out of every later install too.
cat >"$fs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
find "$fs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$fs/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$fs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$fs"/usr/share/{groff,info,linda,lintian,man}/*
# apt as in Docker's image: no lists or .debs left in layers, no translations, the same sources.
cat >"$fs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$fs/etc/apt/apt.conf.d/docker-no-languages"
rm -f "$fs/etc/apt/sources.list"
cat >"$fs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -rf "$fs"/var/lib/apt/lists/* "$fs"/var/cache/apt/* "$fs"/var/log/* "$fs"/tmp/* "$fs"/var/tmp/*

tar -C "$fs" --numeric-owner -c . | podman import --change 'CMD ["bash"]' --message 'debootstrap minbase bookworm, slimmed (test/container/base-image.sh)' - "$BASE" >/dev/null
echo "base: $BASE built locally, $(podman image inspect --format '{{.Size}}' "$BASE" | awk '{printf "%.0f MB", $1/1e6}')"
