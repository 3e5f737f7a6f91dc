#!/usr/bin/env bash
# Install the Debian packages petvoi needs on a bare machine, or say clearly what is missing.
#   libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core : WeasyPrint (PDF reports)
#   dicom3tools                                       : dciodvfy, DICOM conformance of generated data (tests)
#   poppler-utils                                     : pdftotext/pdftoppm (report tests)
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core dicom3tools poppler-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "petvoi setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  echo "petvoi setup: installing Debian packages with sudo: ${missing[*]}"
  sudo -n apt-get update -qq >/dev/null
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "petvoi setup: error: missing Debian packages: ${missing[*]}; install them with" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
