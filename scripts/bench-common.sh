# Shared by scripts/bench-intake*: build, a node with one authority, `custos serve` processes,
# and (for PostgreSQL) scratch databases. Source it from the repository root; it sets
# $custos, $loadgen and $work, and the caller's EXIT trap should call bench_cleanup.

# BENCH_BIN_DIR=DIR runs the `custos` and `custos-loadgen` already in DIR (e.g. copies of
# another commit's build, to alternate runs of two versions on the same machine) without building.
bench_build() {
  if [ -n "${BENCH_BIN_DIR:-}" ]; then
    custos="$BENCH_BIN_DIR/custos"
    loadgen="$BENCH_BIN_DIR/custos-loadgen"
    return
  fi
  # Built one at a time: building both in one command unifies features differently and rebuilds.
  cargo build --release --locked -p custos-cli >&2
  cargo build --release --locked -p custos-loadgen >&2
  local target=${CARGO_TARGET_DIR:-target}
  custos="$target/release/custos"
  loadgen="$target/release/custos-loadgen"
}

work=$(mktemp -d)
server_pids=()
bench_databases=()
pg_server=${BENCH_POSTGRES:-postgresql://postgres@127.0.0.1:5432}

bench_cleanup() {
  bench_stop_servers
  local db
  for db in "${bench_databases[@]}"; do
    psql "$pg_server/postgres" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_node DIR [DATABASE_URL]: a fresh node (on SQLite, or on an existing empty PostgreSQL
# database) whose directory names authority XA, whose private key is $work/xa.jwk.
bench_node() {
  local node=$1 database=${2:-}
  if [ -n "$database" ]; then
    "$custos" init --dir "$node" --origin bench.example/log --database "$database" >/dev/null 2>&1
  else
    "$custos" init --dir "$node" --origin bench.example/log >/dev/null 2>&1
  fi
  [ -f "$work/xa.jwk" ] || "$custos" authority keygen -o "$work/xa.jwk" >/dev/null 2>&1
  "$custos" authority add --dir "$node" --state XA --kind central_authority \
    --name "Central Authority for Mutual Assistance, Ministry of Justice" \
    --jwk "$work/xa.pub.jwk" --channels mla,network_24_7,direct >/dev/null 2>&1
}

# bench_serve NODE: starts one more `custos serve` on a free port and, once it answers, sets
# $served to its URL (not printed: a command substitution would lose the process id).
bench_serve() {
  local node=$1 port log
  port=$(free_port)
  log="$work/serve-$port.log"
  CUSTOS_LOG=${BENCH_SERVE_LOG:-warn} "$custos" serve --dir "$node" --listen "127.0.0.1:$port" 2>"$log" &
  server_pids+=($!)
  local url="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$url/healthz" >/dev/null || { cat "$log" >&2; return 1; }
  served=$url
}

# Stops every `custos serve` this script started (SIGTERM: each finishes its batch) and waits.
bench_stop_servers() {
  local pid
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  server_pids=()
}

# bench_createdb NAME: a new empty PostgreSQL database, dropped by bench_cleanup if not before.
bench_createdb() {
  psql "$pg_server/postgres" -qAtc "CREATE DATABASE \"$1\"" >/dev/null
  bench_databases+=("$1")
}

bench_dropdb() {
  psql "$pg_server/postgres" -qAtc "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
}
