#!/usr/bin/env bash
# Records txmon's own logs under faults (issue 22's log-template corpus, tests/fixtures/logs/README.md):
# the ingest and the reconciler at debug level on the demo's namespace (run `npm run demo` first) while
# the simulator produces 400 records/s; Redis paused 6 s, the broker stopped 12 s (SIGSTOP), the
# transactions table locked 8 s, the ingest killed (SIGKILL) and started again.
#   bash bench/record-fault-logs.sh [out-file]      (default /tmp/txmon-fault-logs.log)
# It stops and locks the shared local services: run nothing else meanwhile.
set -uo pipefail
cd "$(dirname "$0")/.."
export TXMON_TOPIC_NAMESPACE=demo. TXMON_MYSQL_URL=mysql://root@127.0.0.1:3306/txmon_demo TXMON_KEY_PREFIX=txmon-demo \
  TXMON_INGEST_GROUP_ID=txmon-demo-ingest TXMON_RECON_GROUP_ID=txmon-demo-reconcile TXMON_LOG_LEVEL=debug TXMON_LOG_PRETTY=false
out=${1:-/tmp/txmon-fault-logs.log}
: >"$out"
kpid=$(pgrep -f kafka.Kafka | head -1)
[ -n "$kpid" ] || { echo "record-fault-logs: no broker running (txmon services up)"; exit 2; }
trap 'kill -CONT "$kpid" 2>/dev/null' EXIT
node bin/txmon.js run ingest 2>>"$out" >/dev/null & ing=$!
node bin/txmon.js run reconcile 2>>"$out" >/dev/null & rec=$!
sleep 8
node bin/txmon.js simulate --count 20000 --rate 400 2>>"$out" >/dev/null & sim=$!
sleep 10
echo "record-fault-logs: Redis paused 6 s"; redis-cli client pause 6000 all >/dev/null; sleep 8
echo "record-fault-logs: broker stopped 12 s"; kill -STOP "$kpid"; sleep 12; kill -CONT "$kpid"; sleep 10
echo "record-fault-logs: transactions table locked 8 s"
mysql -uroot txmon_demo -e "LOCK TABLES transactions WRITE; SELECT SLEEP(8); UNLOCK TABLES;" >/dev/null; sleep 5
echo "record-fault-logs: ingest killed and started again"; kill -9 "$ing"; wait "$ing" 2>/dev/null; sleep 1
node bin/txmon.js run ingest 2>>"$out" >/dev/null & ing=$!
sleep 15
kill -TERM "$ing" "$rec" "$sim" 2>/dev/null; wait
echo "record-fault-logs: $(wc -l <"$out") lines in $out"
