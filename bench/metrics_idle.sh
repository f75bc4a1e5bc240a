#!/usr/bin/env bash
# The metrics endpoint under 1 000 idle connections: a real `wattfleet serve` with
# --metrics, 1 000 TCP connections to it that send nothing (from 127.0.0.1, as one host
# would), and meanwhile an agent that registers and scrapes from another address
# (127.0.0.2, as Prometheus on another host). Reports whether the agent was welcomed, the
# scrapes' status and time, and how many descriptors the controller holds.
#
#   bench/metrics_idle.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
wattfleet=$build/controller/wattfleet
agent=$build/agent/wattfleet-agent
work=$(mktemp -d /tmp/wattfleet-metrics-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$wattfleet" serve --db "$work/m.db" --bind 'tcp://127.0.0.1:*' --admin "ipc://$work/admin" \
  --metrics 127.0.0.1:0 --ready-file "$work/ready.json" > "$work/serve.log" 2>&1 &
serve=$!
for _ in $(seq 1 200); do [ -s "$work/ready.json" ] && break; sleep 0.05; done
port=$(sed -n 's/.*"metrics_port":\([0-9]*\).*/\1/p' "$work/ready.json")
endpoint=$(sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p' "$work/ready.json")
echo "controller: agents on $endpoint, metrics on 127.0.0.1:$port"

# 1 000 idle connections, held open for the whole run.
/usr/bin/python3 - "$port" > "$work/idle.log" 2>&1 <<'EOF' &
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
held = []
for _ in range(1000):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", int(sys.argv[1])))
    except BlockingIOError:
        pass
    held.append(s)
print("opened", len(held), flush=True)
time.sleep(60)
EOF
idle=$!
sleep 2
echo "controller descriptors with 1 000 idle clients: $(ls /proc/$serve/fd | wc -l)"

"$agent" --controller "$endpoint" --name bench-agent --sensor simulated --threads 1 \
  --spool "$work/spool" > "$work/agent.log" 2>&1 &
welcomed=no
for _ in $(seq 1 300); do
  if grep -q "agent bench-agent registered" "$work/serve.log"; then welcomed=yes; break; fi
  sleep 0.1
done
echo "agent welcomed while they are open: $welcomed"

ok=0
times=()
for _ in $(seq 1 20); do
  out=$(curl -s -o /dev/null --interface 127.0.0.2 --max-time 10 \
    -w '%{http_code} %{time_total}' "http://127.0.0.1:$port/metrics" || echo "000 10")
  [ "${out%% *}" = 200 ] && ok=$((ok + 1))
  times+=("${out##* }")
  sleep 0.2
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "scrapes from another address: $ok/20 answered 200; time min $(echo "$sorted" | head -1) s," \
  "median $(echo "$sorted" | sed -n 10p) s, max $(echo "$sorted" | tail -1) s"
# From the same address as the idle clients: refused while they hold its 16 connections,
# answered once the idle timeout (5 s) has closed theirs.
same=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://127.0.0.1:$port/metrics" || true)
echo "a scrape from the idle clients' own address, 6 s after they connected: ${same:-000}"
echo "controller descriptors at the end: $(ls /proc/$serve/fd | wc -l)"
kill "$idle" 2>/dev/null || true
