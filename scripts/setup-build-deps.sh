#!/usr/bin/env bash
# Debian packages chainseal needs to build and test: libseccomp-dev (the factory's step
# sandbox links libseccomp through hakoniwa's seccomp feature) and openssl (interop
# tests). Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
need=()
if ! { [ -e /usr/lib/x86_64-linux-gnu/libseccomp.so ] || [ -e /usr/lib/aarch64-linux-gnu/libseccomp.so ] \
        || pkg-config --exists libseccomp 2>/dev/null; }; then
    need+=(libseccomp-dev pkg-config)
fi
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} from Debian" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
