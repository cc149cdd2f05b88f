#!/usr/bin/env bash
# Container fault tests: the compose deployment's coordinator and three
# nodes (no Jaeger/Prometheus/Grafana: those need images this machine
# cannot pull), built offline as the registry-free image, then faults —
# each step asserted through `emberctl --json` and bounded in time:
#   1. load a module and drive load until the cluster is warm;
#   2. `docker kill` a node and start it again: a new generation, its hot
#      functions compiled before its first invocation;
#   3. `docker network disconnect` a node, make the others learn a
#      speculation failure, reconnect: the node gets the outcome;
#   4. stop the coordinator: nodes compile under their fallback budgets;
#      start it: they take leases from it again.
# Everything is torn down at the end, also on failure. One summary line per
# step; exit status non-zero on any failure.
#
# With no Docker engine answering, it says so and exits 0 (CI runs it
# whenever one does).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! docker info >/dev/null 2>&1; then
  echo "compose tests: SKIPPED — no Docker engine answers (docker info failed)"
  exit 0
fi

export COMPOSE_PROJECT_NAME=ember-ci
export EMBER_IMAGE=ember:ci
export EMBER_CLUSTER_SECRET="ci-secret-$$-$RANDOM"
export EMBER_ADMIN_TOKEN=ci-admin EMBER_TOKEN=ci-admin
export OTEL_EXPORTER_OTLP_ENDPOINT=          # no Jaeger here
export RUST_LOG=warn
SERVICES=(coordinator node-1 node-2 node-3)
CTL=deploy/.bin/emberctl
LOGS=target/compose-logs
if docker compose version >/dev/null 2>&1; then
  dc() { docker compose -f docker-compose.yml "$@"; }
elif command -v docker-compose >/dev/null; then
  dc() { docker-compose -f docker-compose.yml "$@"; }
else
  echo "compose tests: FAILED — a Docker engine answers but neither 'docker compose' nor 'docker-compose' is installed"
  exit 1
fi
# The container of a service (names differ between Compose v1 and v2).
container() { dc ps -q "$1"; }

cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    mkdir -p "$LOGS"
    for s in "${SERVICES[@]}"; do dc logs --no-color "$s" >"$LOGS/$s.log" 2>&1 || true; done
    echo "compose tests: FAILED; container logs in $LOGS/"
  fi
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  exit "$status"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
node() { echo "http://127.0.0.1:707$1"; }

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 0.2
  done
}

# drive NODE ARGS...: invokes through emberctl, quietly unless it fails.
drive() {
  local n=$1; shift
  local out
  out=$("$CTL" --node "$(node "$n")" invoke "$@" 2>&1) || fail "invoke $* on node-$n: $out"
}

# json EXPR: evaluates a Python expression over the JSON on stdin (as `j`).
json() { python3 -c "import json,sys; j=json.load(sys.stdin); r=($1); sys.exit(0 if r else 1)"; }
jval() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# --- build and start -----------------------------------------------------
t=$(now)
deploy/build-scratch-image.sh "$EMBER_IMAGE"
dc config -q || fail "docker compose config is not valid"
dc up -d --no-build "${SERVICES[@]}"
for i in 1 2 3; do wait_for 60 "node-$i healthy" "$CTL" --node "$(node "$i")" health; done
wait_for 30 "coordinator healthy" "$CTL" --node http://127.0.0.1:7080 health
members_live() { "$CTL" --node "$(node "$1")" --json members | json "sum(m['live'] for m in j) == 3"; }
for i in 1 2 3; do wait_for 30 "node-$i sees 3 live members" members_live "$i"; done
echo "step 0: image built, coordinator and 3 nodes up and gossiping ($(since "$t") s)"

# --- 1. load a module, drive load until warm ------------------------------
t=$(now)
for i in 1 2 3; do "$CTL" --node "$(node "$i")" load tests/compose/flip.lua >/dev/null; done
for i in 1 3; do
  drive "$i" shop audit 500 --repeat 5
  drive "$i" shop forecast 7 1.01 --repeat 10
  drive "$i" flip add 2000 3 --repeat 60
done
audit_key=$("$CTL" --node "$(node 1)" --json function audit --module shop | jval "j['key']")
add_key=$("$CTL" --node "$(node 1)" --json function add --module flip | jval "j['key']")
hot_everywhere() { "$CTL" --node "$(node 2)" --json profiles --cluster --function "$audit_key" | json "any(p['tier'] >= 1 and len(p['nodes']) >= 2 for p in j)"; }
wait_for 30 "the cluster view on node-2 shows shop.audit compiled on two nodes" hot_everywhere
# Hot enough for tier 2: keep calling until it is there.
at_tier2() { drive 1 flip add 2000 3 --repeat 40; "$CTL" --node "$(node 1)" --json function add --module flip | json "j['tier'] == 2"; }
wait_for 60 "flip.add at tier 2 on node-1" at_tier2
echo "step 1: module loaded on 3 nodes, load driven, cluster warm: audit compiled on 2 nodes, flip.add at tier 2 ($(since "$t") s)"

# --- 2. kill -9 a node, start it again ------------------------------------
gen_before=$("$CTL" --node "$(node 1)" --json members | jval "[m['generation'] for m in j if m['node_id'] == 'node-2'][0]")
node2=$(container node-2)
docker kill "$node2" >/dev/null
t=$(now)
docker start "$node2" >/dev/null
wait_for 60 "node-2 serving again" "$CTL" --node "$(node 2)" health
rejoined() { "$CTL" --node "$(node 1)" --json members | json "any(m['node_id'] == 'node-2' and m['live'] and m['generation'] > $gen_before for m in j)"; }
wait_for 30 "node-1 sees node-2 live with a new generation" rejoined
warm_before_call() { "$CTL" --node "$(node 2)" --json function "$audit_key" | json "j['tier'] >= 1 and j['calls'] == 0"; }
wait_for 30 "node-2 has shop.audit compiled before any call" warm_before_call
echo "step 2: node-2 killed (-9) and restarted: new generation, shop.audit compiled before its first call; healed in $(since "$t") s"

# --- 3. partition a node, learn a speculation failure, heal ---------------
net="${COMPOSE_PROJECT_NAME}_default"
node3=$(container node-3)
docker network disconnect "$net" "$node3"
# The others see argument types flip: flip.add deopts on node-1.
drive 1 flip add 2000 1.5 --repeat 40
has_outcome() { "$CTL" --node "$(node "$1")" --json profiles --cluster --function "$add_key" | json "any(o['failures'] > 0 for p in j for o in p['outcomes'])"; }
wait_for 20 "node-2 learns flip.add's speculation outcome" has_outcome 2
has_outcome 3 && fail "node-3 learned the outcome while cut off"
t=$(now)
docker network connect --alias node-3 "$net" "$node3"
wait_for 30 "node-3 learns the outcome after the partition heals" has_outcome 3
echo "step 3: node-3 cut off while node-1 deopted flip.add; after reconnecting it had the speculation outcome in $(since "$t") s"

# --- 4. coordinator down, then up ----------------------------------------
budget() { "$CTL" --node "$(node 1)" --json budget; }
local_before=$(budget | jval "j['local_compiles']")
dc stop coordinator >/dev/null
t=$(now)
drive 1 shop matrix 60 --repeat 20
drive 1 shop inventory 3000 --repeat 20
compiled_locally() { budget | json "j['source'] == 'fallback' and j['local_compiles'] > $local_before"; }
wait_for 30 "node-1 compiles under its fallback budget" compiled_locally
"$CTL" --node "$(node 1)" --json function matrix --module shop | json "j['tier'] >= 1" || fail "shop.matrix not compiled while the coordinator was down"
fallback_s=$(since "$t")
granted_before=$(budget | jval "j['leases_granted']")
dc start coordinator >/dev/null
t=$(now)
wait_for 30 "coordinator healthy again" "$CTL" --node http://127.0.0.1:7080 health
drive 1 shop checksum 99 --repeat 20
drive 1 shop route 42 --repeat 20
drive 1 shop price 800 0.2 --repeat 20
back_on_leases() { budget | json "j['source'] == 'coordinator' and j['leases_granted'] > $granted_before"; }
wait_for 45 "node-1 takes leases from the coordinator again" back_on_leases
echo "step 4: coordinator stopped: node-1 compiled under its fallback budget (${fallback_s} s); restarted: leases again after $(since "$t") s"

echo "compose tests: all steps passed"
