#!/usr/bin/env bash
# Installs what the demo or the tests need and is not there yet; does
# nothing for what is. Called by scripts/demo.sh (`setup.sh demo`) and
# scripts/test.sh (`setup.sh test`); needs root or sudo for apt-get.
#
#   demo: prometheus, promtool            (Debian package prometheus)
#   test: the above, prometheus-alertmanager and amtool (Debian package
#         prometheus-alertmanager), victoria-metrics (Debian package
#         victoria-metrics, the second query backend), chromium (Debian
#         package chromium: the HTML statements are rendered in a real
#         browser), and aiosmtpd importable by python3 (PyPI aiosmtpd,
#         else Debian python3-aiosmtpd): the tests start a real
#         Prometheus, Alertmanager, VictoriaMetrics, SMTP server and
#         headless Chromium.
set -euo pipefail
what=${1:-test}
case "$what" in
  demo) tools=(prometheus promtool); packages=(prometheus) ;;
  test)
    tools=(prometheus promtool prometheus-alertmanager amtool victoria-metrics chromium)
    packages=(prometheus prometheus-alertmanager victoria-metrics chromium)
    ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo"
fi
updated=no
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: $* missing and there is no apt-get: install the Debian/Ubuntu package(s) $* (or the same tools) yourself" >&2
    exit 1
  fi
  if [ "$updated" = no ]; then
    $SUDO apt-get update -qq
    updated=yes
  fi
  echo "setup: installing $* (Debian packages) …" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt_install "${packages[@]}"
    break
  fi
done
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool is still not on the PATH" >&2; exit 1; }
done

if [ "$what" = test ]; then
  # The e-mail tests run `python3 -m aiosmtpd` with the python3 on the PATH:
  # pip installs into that one; Debian's package only into /usr/bin/python3,
  # so it is the last resort.
  if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "setup: installing aiosmtpd (PyPI) …" >&2
    python3 -m pip install -q aiosmtpd 2>/dev/null \
      || python3 -m pip install -q --break-system-packages aiosmtpd 2>/dev/null \
      || apt_install python3-aiosmtpd
  fi
  python3 -c 'import aiosmtpd' || { echo "setup: aiosmtpd is not importable by $(command -v python3)" >&2; exit 1; }
fi
