#!/usr/bin/env bash
# capture-golden.sh — recapture the golden SMB2/SMB3 fixtures in smb-proto/tests/fixtures/golden.
#
# Starts a private smbd through the conformance harness (examples/samba_peer.rs: temp dir,
# tdbsam, dedicated unix user, free 127.0.0.1 port), records every smbclient session below with
# `tshark -i lo -f 'tcp port PORT' -F pcap`, checks that each smbclient run ended the way it
# should, then cuts the captures into one hex file per SMB2 message with pcap_to_golden.py.
#
# Needs root (smbd, capture on lo), smbd, smbpasswd, smbclient, tshark, python3, cargo.
# Usage: conformance/scripts/capture-golden.sh [OUT_DIR]   (KEEP_PCAPS=1 keeps the work dir)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/smb-proto/tests/fixtures/golden}
WORK=$(mktemp -d /tmp/golden-capture.XXXXXX)
PEER_PID="" PEER_FD=""

cleanup() {
  # Closing the peer's stdin makes it drop the server (kills smbd, removes its temp dir).
  if [[ -n $PEER_FD ]]; then exec {PEER_FD}>&-; fi
  if [[ -n $PEER_PID ]]; then wait "$PEER_PID" 2>/dev/null || true; fi
  if [[ ${KEEP_PCAPS:-0} == 1 ]]; then echo "pcaps kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

for tool in smbd smbclient smbtorture tshark python3 cargo; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed"; exit 1; }
done

echo "== building the peer launcher"
(cd "$ROOT" && cargo build -q -p conformance --example samba_peer)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/samba_peer

echo "== starting private smbd"
mkfifo "$WORK/peer.ctl"
"$BIN" <"$WORK/peer.ctl" >"$WORK/peer.env" 2>"$WORK/peer.err" &
PEER_PID=$!
exec {PEER_FD}>"$WORK/peer.ctl"
for _ in $(seq 300); do
  grep -qx READY "$WORK/peer.env" 2>/dev/null && break
  kill -0 "$PEER_PID" 2>/dev/null || { cat "$WORK/peer.err"; echo "FAIL: peer did not start"; exit 1; }
  sleep 0.1
done
grep -qx READY "$WORK/peer.env" || { echo "FAIL: peer not ready"; exit 1; }
# shellcheck disable=SC1091
source <(grep '=' "$WORK/peer.env")
echo "smbd on 127.0.0.1:$PORT (user $USER), $(smbd --version), smbclient $(smbclient --version)"

printf 'golden fixture payload: small enough to stay in one message.\n' >"$WORK/small.txt"
MANIFEST=$WORK/manifest

# capture NAME DIALECT EXPECT ONLY MAX NOTES -- command...
#   DIALECT: 3.1.1 etc., or auto (read from the NEGOTIATE response).
#   EXPECT: ok, fail or any: the exit status the command must have.
#   ONLY/MAX: which commands to keep and how many fixtures at most (see pcap_to_golden.py).
capture() {
  local name=$1 dialect=$2 expect=$3 only=$4 max=$5 notes=$6; shift 7
  local pcap=$WORK/$name.pcap log=$WORK/$name.tshark.log
  tshark -i lo -f "tcp port $PORT" -F pcap -w "$pcap" >"$log" 2>&1 &
  local tpid=$!
  for _ in $(seq 200); do grep -q "Capturing on" "$log" && break; sleep 0.05; done
  grep -q "Capturing on" "$log" || { cat "$log"; echo "FAIL: tshark did not start"; exit 1; }
  local rc=0
  timeout 120 "$@" >"$WORK/$name.out" 2>&1 || rc=$?
  sleep 0.3
  kill -INT "$tpid"; wait "$tpid" || true
  if [[ $expect == ok && $rc != 0 ]] || [[ $expect == fail && $rc == 0 ]]; then
    cat "$WORK/$name.out"; echo "FAIL: scenario $name: exit $rc, expected $expect"; exit 1
  fi
  echo "$name|$dialect|$pcap|$PORT|$only|$max|$WORK/$name.out|$notes" >>"$MANIFEST"
  echo "captured $name (exit $rc)"
}

# debug encryption = yes makes smbclient print the SMB3 session id and keys (session, signing,
# application, ServerIn = client-to-server encryption, ServerOut = server-to-client); the
# extractor copies them into the fixtures' comments, so signatures and TRANSFORM frames can be
# checked offline.
SMBCLIENT=(smbclient -p "$PORT" -s "$CLIENT_CONF" "--option=debug encryption=yes")
AUTH=(-U "$USER%$PASS")
FULL="put $WORK/small.txt small.txt; ls; allinfo small.txt; get small.txt $WORK/got.txt; \
setmode small.txt +r; setmode small.txt -r; rename small.txt moved.txt; mkdir sub; rmdir sub; \
ls nosuch*; get nosuch.txt $WORK/nosuch.txt; echo 1 ping; del moved.txt; tdis; logoff"
SHORT="put $WORK/small.txt signed.txt; ls; get signed.txt $WORK/got.txt; del signed.txt"

declare -A NAME=([SMB2_02]=2.0.2 [SMB2_10]=2.1 [SMB3_00]=3.0 [SMB3_02]=3.0.2 [SMB3_11]=3.1.1)
for proto in SMB2_02 SMB2_10 SMB3_00 SMB3_02 SMB3_11; do
  d=${NAME[$proto]}; label=smb${proto//[^0-9]/}
  # smbclient -c runs every command even after one fails; its exit status is the last one's.
  # The plain scenario fails two on purpose (ls nosuch*, get nosuch.txt) to record errors.
  capture "$label-plain" "$d" ok "" 0 "smbclient, no signing (--client-protection=off)" \
    -- "${SMBCLIENT[@]}" //127.0.0.1/share "${AUTH[@]}" -m "$proto" --client-protection=off -c "$FULL"
  capture "$label-signed" "$d" ok "" 0 "smbclient, client signing required (--client-protection=sign)" \
    -- "${SMBCLIENT[@]}" //127.0.0.1/share "${AUTH[@]}" -m "$proto" --client-protection=sign -c "$SHORT"
done

capture smb311-logon-failure 3.1.1 fail "" 0 "smbclient, wrong password: SESSION_SETUP ends in LOGON_FAILURE" \
  -- "${SMBCLIENT[@]}" //127.0.0.1/share -U "$USER%wrong-password" -m SMB3_11 -c ls
capture smb311-secure-share 3.1.1 ok "" 0 "smbclient to a share with smb encrypt = required, client did not ask for encryption: TREE_CONNECT in clear, then TRANSFORM (AES-128-GCM)" \
  -- "${SMBCLIENT[@]}" //127.0.0.1/secure "${AUTH[@]}" -m SMB3_11 -c ls
capture smb300-encrypt 3.0 ok "" 0 "smbclient --client-protection=encrypt on 3.0: everything after SESSION_SETUP is TRANSFORM (AES-128-CCM)" \
  -- "${SMBCLIENT[@]}" //127.0.0.1/secure "${AUTH[@]}" -m SMB3_00 --client-protection=encrypt -c ls
capture smb210-secure-denied 2.1 fail "TREE_CONNECT" 0 "smbclient on SMB 2.1 (no encryption) to the encrypted share: TREE_CONNECT refused" \
  -- "${SMBCLIENT[@]}" //127.0.0.1/secure "${AUTH[@]}" -m SMB2_10 -c ls

# smbtorture drives what smbclient never sends: create contexts, leases, durable handles,
# compounds, locks, change notify, cancel, oplock breaks, more FSCTLs. Some of these tests fail
# against Samba's default configuration; the traffic is still real, so the exit status is ignored.
TORTURE=(smbtorture //127.0.0.1/share -p "$PORT" "${AUTH[@]}" --configfile="$CLIENT_CONF")
capture torture-create-blob auto any "CREATE" 10 "smbtorture smb2.create.blob: create contexts (AlSi, DHnQ, MxAc, TWrp)" \
  -- "${TORTURE[@]}" smb2.create.blob
capture torture-create-ctx auto any "CREATE" 6 "smbtorture smb2.create.nulldacl + smb2.fileid.fileid: SecD and QFid" \
  -- "${TORTURE[@]}" smb2.create.nulldacl smb2.fileid.fileid
capture torture-durable-lease auto any "CREATE,OPLOCK_BREAK" 4 "smbtorture smb2.durable-open.open-lease: DHnQ + RqLs" \
  -- "${TORTURE[@]}" smb2.durable-open.open-lease
capture torture-durable-v2-lease auto any "CREATE,OPLOCK_BREAK" 4 "smbtorture smb2.durable-v2-open.open-lease: DH2Q + RqLs v2" \
  -- "${TORTURE[@]}" smb2.durable-v2-open.open-lease
capture torture-oplock-break auto any "OPLOCK_BREAK" 4 "smbtorture smb2.oplock.batch1: oplock break notification, acknowledgment, response" \
  -- "${TORTURE[@]}" smb2.oplock.batch1
capture torture-compound auto any "COMPOUND" 6 "smbtorture smb2.compound.related1/2/3: related compound chains" \
  -- "${TORTURE[@]}" smb2.compound.related1 smb2.compound.related2 smb2.compound.related3
capture torture-lock-cancel auto any "LOCK,CANCEL" 6 "smbtorture smb2.lock.cancel: blocking lock, interim response, cancel" \
  -- "${TORTURE[@]}" smb2.lock.cancel
capture torture-notify auto any "CHANGE_NOTIFY,CANCEL" 4 "smbtorture smb2.notify.valid-req: change notify" \
  -- "${TORTURE[@]}" smb2.notify.valid-req
capture torture-ioctl auto any "IOCTL" 6 "smbtorture smb2.ioctl.req_resume_key + copy_chunk_simple + network_interface_info" \
  -- "${TORTURE[@]}" smb2.ioctl.req_resume_key smb2.ioctl.copy_chunk_simple smb2.ioctl.network_interface_info

echo "== extracting fixtures"
python3 "$HERE/pcap_to_golden.py" "$OUT" "$MANIFEST"
echo "== checking the recorded keys against the captured bytes"
PY_CRYPTO=""
for py in python3 /usr/bin/python3; do
  if "$py" -c 'import Cryptodome' 2>/dev/null; then PY_CRYPTO=$py; break; fi
done
if [[ -n $PY_CRYPTO ]]; then
  "$PY_CRYPTO" "$HERE/verify_golden_keys.py" "$OUT"
else
  echo "WARNING: pycryptodomex not installed (apt-get install python3-pycryptodome): keys not checked"
fi
echo "PASS: golden fixtures written to $OUT"
