# Helpers shared by bench/gateway/run and bench/gateway/ab (sourced, not run).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Requests/s and the request count from wrk's report on stdin.
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
requests() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p'; }
# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# A token that `countersign init --json` printed to the file $1, for the name $2.
token_of() { sed -n "s/.*\"$2\": \"\\([^\"]*\\)\".*/\\1/p" "$1"; }
# The wrk script of the benchmark's request (a routine, allowed read) with bearer token
# $2, written to the file $1.
write_post_lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '{"action":"db.read","resource":"prod/db/customers","purpose":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
LUA
}
