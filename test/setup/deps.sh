#!/usr/bin/env bash
# Install what pgetl needs on Debian bookworm (run as root).  Safe to run
# again: packages already present are not downloaded a second time.
#   --bench   also install what the benchmarks compare against (pgloader)
#   --matrix  also install debootstrap (PostgreSQL 17 and 18 run in Debian
#             chroots: test/setup/chroot.sh)
#   --test    also install what the test suite needs besides PostgreSQL: a
#             headless browser that renders the HTML report
#             (test/report/browser_test.sh) and Debian's python3 with PIL
#             to read its screenshot and parse the SVGs
set -euo pipefail

pkgs=(make gcc zlib1g-dev pkg-config postgresql-15 postgresql-server-dev-15 postgresql-15-cron
      libgraphviz-dev graphviz libxml2-utils
      postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl pg-bsd-indent
      libipc-run-perl postgresql-common)
for opt in "$@"; do
    case "$opt" in
        --bench) pkgs+=(pgloader postgresql-contrib) ;;
        --matrix) pkgs+=(debootstrap) ;;
        --test) pkgs+=(chromium python3 python3-pil fonts-dejavu-core) ;;
        *) echo "deps: unknown option $opt" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null
echo "deps: done"
