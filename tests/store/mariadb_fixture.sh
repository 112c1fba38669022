#!/usr/bin/env bash
# A MariaDB server for the store tests (a CTest fixture): `start DIR` installs a data
# directory under DIR (once), starts mariadbd as root on DIR/mysqld.sock and 127.0.0.1:PORT
# (a free port, kept in DIR/port so a restart reuses it), creates the user cnnlab (password
# in DIR/password) and writes DIR/url; `stop DIR` shuts it down. Without the packages
# (mariadb-server-core, mariadb-client-core) it writes DIR/skip with the reason and succeeds,
# and the tests skip saying so.
set -euo pipefail
action=${1:?usage: mariadb_fixture.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: mariadb_fixture.sh start|stop DIR}" && cd "$2" && pwd)
socket=$dir/mysqld.sock
client() { mariadb --no-defaults --socket="$socket" -uroot "$@"; }

running() { [[ -f $dir/mysqld.pid ]] && kill -0 "$(cat "$dir/mysqld.pid")" 2>/dev/null; }

stop() {
  running || return 0
  local pid; pid=$(cat "$dir/mysqld.pid")
  kill "$pid"  # mariadbd shuts down cleanly on SIGTERM
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "mariadb_fixture: mariadbd $pid did not stop in 60 s" >&2; return 1
}

start() {
  rm -f "$dir/skip"
  for tool in mariadbd mariadb-install-db mariadb; do
    if ! command -v "$tool" >/dev/null && [[ ! -x /usr/sbin/$tool ]]; then
      echo "$tool is not installed (Debian mariadb-server-core, mariadb-client-core;" \
           "scripts/setup.sh installs them)" > "$dir/skip"
      cat "$dir/skip"; return 0
    fi
  done
  running && return 0
  if [[ ! -d $dir/data/mysql ]]; then
    rm -rf "$dir/data"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
      --auth-root-authentication-method=socket --skip-test-db > "$dir/install.log" 2>&1
  fi
  [[ -f $dir/port ]] || python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > "$dir/port"
  local mariadbd; mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  setsid "$mariadbd" --no-defaults --datadir="$dir/data" --user=root --socket="$socket" \
    --port="$(cat "$dir/port")" --bind-address=127.0.0.1 --pid-file="$dir/mysqld.pid" \
    --log-error="$dir/error.log" --skip-log-bin --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=200 < /dev/null > /dev/null 2>&1 &
  for _ in $(seq 600); do
    client -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  client -e "SELECT 1" >/dev/null || { cat "$dir/error.log" >&2; return 1; }
  echo cnnlab-test > "$dir/password"
  client -e "CREATE USER IF NOT EXISTS 'cnnlab'@'127.0.0.1' IDENTIFIED BY 'cnnlab-test';
             CREATE USER IF NOT EXISTS 'cnnlab'@'localhost' IDENTIFIED BY 'cnnlab-test';
             GRANT ALL ON *.* TO 'cnnlab'@'127.0.0.1'; GRANT ALL ON *.* TO 'cnnlab'@'localhost';
             CREATE DATABASE IF NOT EXISTS cnnlab;"
  echo "mysql://cnnlab@127.0.0.1:$(cat "$dir/port")/cnnlab" > "$dir/url"
  echo "mysql://root@localhost/cnnlab?socket=$socket" > "$dir/socket_url"
  echo "mariadb_fixture: $(cat "$dir/url") (socket $socket)"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) echo "usage: mariadb_fixture.sh start|stop DIR" >&2; exit 2 ;;
esac
