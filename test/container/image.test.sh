#!/usr/bin/env bash
# The container image, end to end (README "Container image"): builds the Containerfile's base
# locally when podman does not have it (test/container/base-image.sh: this machine reaches
# Debian's mirror and the npm registry, not a container registry), builds the image from the
# Containerfile, then runs test/container/image.suite.ts against it: a sign-in with
# openid-client on PostgreSQL and Redis, non-root, the health check following /readyz, a clean
# stop on SIGTERM, the testers' one-container form, what the image holds, its size.
#
#   test/container/image.test.sh
#
# Needs root, podman, runc and debootstrap (.ci/run installs them), redis-server, and the
# machine's PostgreSQL on 127.0.0.1:5432 (database "test", as for npm test; TEST_DATABASE_URL
# names another). The IdP containers use the host's network (--network=host), a Redis server
# of their own on a free port and a schema of their own, so they run beside npm test.
# Not part of npm test: a cold run (base and image built) takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
begun=$SECONDS

for tool in podman runc debootstrap redis-server; do
  command -v "$tool" >/dev/null || { echo "container: FAILED: $tool is needed (Debian package; .ci/run installs it)" >&2; exit 1; }
done

# This sandbox (and CI machines like it) refuses crun's rlimits and cgroup-v2 controllers:
# runc, and no default ulimits. Kept in a file of our own unless the caller gives one.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  conf=$(mktemp /tmp/idp-containers.XXXXXX.conf)
  trap 'rm -f "$conf"' EXIT
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf"
  export CONTAINERS_CONF=$conf
fi

test/container/base-image.sh
base_done=$SECONDS

IMAGE=${IDP_IMAGE:-localhost/school-idp:test}
# npm in the build reaches the registry through this machine's TLS proxy when it has one:
# the CA bundle Node is told about here is given to the build as a secret (never in a layer).
secret=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then secret=(--secret "id=ca,src=$NODE_EXTRA_CA_CERTS"); fi
echo "container: building $IMAGE"
# --format docker: the OCI image format has no HEALTHCHECK; --pull=never: the base is local.
podman build --format docker --pull=never --network=host "${secret[@]}" -f Containerfile -t "$IMAGE" . \
  || { echo "container: FAILED: podman build" >&2; exit 1; }
build_done=$SECONDS

IDP_IMAGE=$IMAGE npm exec --offline -- mocha --no-config --require test/support/hooks.ts --timeout 600000 --exit test/container/image.suite.ts
echo "container: base $((base_done - begun)) s, image build $((build_done - base_done)) s, tests $((SECONDS - build_done)) s, total $((SECONDS - begun)) s"
