#!/bin/sh
# negoex demo / initiate / accept, driven as a user would.
# usage: sh test_converse.sh NEGOEX VECTORS
set -u
NEGOEX=$1
pass=0
fail=0
check() { # name, then a command whose success is the assertion
  name=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# demo: both roles in process, for several flows
for args in "" "--hops 3" "--hops 4 --key always" "--hops 3 --key init-always" "--no-optimistic" "--meta none"; do
  # shellcheck disable=SC2086
  "$NEGOEX" demo $args > "$tmp/demo.out" 2>&1
  check "demo $args exits 0" test $? -eq 0
  check "demo $args completes" grep -q '^COMPLETE: conversation' "$tmp/demo.out"
done
"$NEGOEX" demo --hops 3 --key init-always > "$tmp/alert.out"
check "init-always sends an ALERT pulse" grep -q 'ALERT\[9\]' "$tmp/alert.out"
"$NEGOEX" demo --key never > "$tmp/never.out"
check "keys never fails" test $? -eq 1
check "keys never says NO_KEY" grep -q 'NO_KEY' "$tmp/never.out"
"$NEGOEX" demo --trace > "$tmp/trace.out" 2> "$tmp/trace.err"
check "trace lines on stderr" grep -q '^initiator: sending \[0\]INITIATOR_NEGO: c0a28569-66ac-0000-0000-000000000000 d1b08469-2ca8-0000-0000-000000000000' "$tmp/trace.err"
check "trace counts 9 messages each way" test "$(grep -c 'sending \[' "$tmp/trace.err")" -eq 9

# initiate | accept over the line protocol, wired through two fifos
mkfifo "$tmp/i2a" "$tmp/a2i"
# The acceptor side drains what is left after it completes, so the initiator's
# last lines never meet a closed pipe.
{ "$NEGOEX" accept --raw --hops 3; echo "$?" > "$tmp/arc"; cat > /dev/null; } < "$tmp/i2a" > "$tmp/a2i" &
apid=$!
"$NEGOEX" initiate --raw --hops 3 < "$tmp/a2i" | tee "$tmp/i.log" > "$tmp/i2a"
wait "$apid"
check "accept exits 0 (complete)" test "$(cat "$tmp/arc")" = 0
check "initiator printed STATUS COMPLETE" grep -q '^STATUS COMPLETE' "$tmp/i.log"
check "initiator's first line is a TOKEN" sh -c "head -n 1 '$tmp/i.log' | grep -q '^TOKEN 4e45474f45585453'"

# the acceptor refuses garbage with a precise status line
printf 'TOKEN 4e45474f\n' | "$NEGOEX" accept --raw > "$tmp/bad.out"
check "garbage token exits 1" test $? -eq 1
check "garbage token reports TRUNCATED_HEADER" grep -q '^STATUS ERROR TRUNCATED_HEADER' "$tmp/bad.out"
"$NEGOEX" initiate > /dev/null 2>&1
check "initiate without --raw is a usage error" test $? -eq 2
"$NEGOEX" bench handshake --iterations 20 > "$tmp/bench.out"
check "bench handshake prints its figures" grep -q '^allocs_per_handshake ' "$tmp/bench.out"
"$NEGOEX" bench codec --iterations 20 > "$tmp/benchc.out"
check "bench codec prints its figures" grep -q '^parse_msgs_per_sec ' "$tmp/benchc.out"

echo "$pass passed, $fail failed"
test "$fail" -eq 0
