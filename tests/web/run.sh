#!/bin/sh
# run.sh build|unit|e2e - the web client's checks, as ctest runs them.
#   build  npm ci (when the lock file changed) and the production build
#   unit   vitest: stanza handling, forms, labels, conversation state
#   e2e    tests/web/e2e.mjs against the aldis in $ALDIS_BUILD
# Needs node >= 18.19 and npm; e2e also /usr/bin/chromium.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
WEB=$(cd "$HERE/../../web" && pwd)
# A relative ALDIS_BUILD is relative to where we were called from.
if [ -n "${ALDIS_BUILD:-}" ]; then
    case $ALDIS_BUILD in /*) ;; *) ALDIS_BUILD="$(pwd)/$ALDIS_BUILD" ;; esac
    export ALDIS_BUILD
fi
cd "$WEB"

deps() {
    # npm ci wipes node_modules: only when the lock file is newer than
    # the last install (npm writes node_modules/.package-lock.json).
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund
    fi
}

case "${1:-}" in
build) deps; npm run build ;;
unit) deps; npm test ;;
e2e)
    deps
    [ -f dist/index.html ] || npm run build
    exec node "$HERE/e2e.mjs"
    ;;
*) echo "usage: $0 build|unit|e2e" >&2; exit 2 ;;
esac
