#!/usr/bin/env bash
# Orthanc for the archive tests (tests/conftest.py, fixture `orthanc`): installs the Debian packages orthanc and
# orthanc-dicomweb when missing (root, apt-get, no recommends). The packaged system service is not used: the test
# fixture starts its own Orthanc process on loopback with a temporary storage folder and random ports, and stops it.
#
#   tools/ci/orthanc.sh install    install when missing (idempotent)
#   tools/ci/orthanc.sh status     exit 0 when Orthanc and its DICOMweb plugin are installed
set -euo pipefail

PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
say() { echo "orthanc.sh: $*" >&2; }

installed() { command -v Orthanc >/dev/null && [[ -f $PLUGIN ]]; }

case "${1:-}" in
status)
    installed
    ;;
install)
    installed && exit 0
    [[ $(id -u) == 0 ]] || { say "Orthanc is not installed and this is not root"; exit 1; }
    command -v apt-get >/dev/null || { say "Orthanc is not installed and there is no apt-get (Debian only)"; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    say "installing orthanc orthanc-dicomweb (apt-get, no recommends)"
    if ! apt-get install -y -q --no-install-recommends orthanc orthanc-dicomweb >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends orthanc orthanc-dicomweb >/dev/null
    fi
    installed || { say "installed, but Orthanc or $PLUGIN is missing"; exit 1; }
    # the package starts its system service when a runlevel allows it: the tests never use it
    if command -v systemctl >/dev/null; then systemctl stop orthanc >/dev/null 2>&1 || true; fi
    if [[ -x /etc/init.d/orthanc ]]; then /etc/init.d/orthanc stop >/dev/null 2>&1 || true; fi
    ;;
*)
    say "usage: tools/ci/orthanc.sh install|status"; exit 2
    ;;
esac
