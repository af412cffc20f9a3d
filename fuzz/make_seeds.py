#!/usr/bin/env python3
"""Write small seed corpora for the fuzz targets from the golden fixtures.

Standard library only. Reads smb-proto/tests/fixtures/golden/*.hex (real messages from
smbclient, smbtorture and impacket talking to Samba) and writes fuzz/corpus/<target>/seed-*
in each target's input format (see fuzz/README.md). Seeds larger than MAX_SEED bytes are
skipped and at most PER_TARGET seeds are kept per target, distinct by content, so the
committed corpus stays small. COMPRESSION_TRANSFORM has no golden message (Samba 4.17 does
not compress); its seeds are built by hand from MS-SMB2 2.2.42.

Usage: python3 fuzz/make_seeds.py   (from the workspace root or from fuzz/)
"""

import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "smb-proto", "tests", "fixtures", "golden")
CORPUS = os.path.join(HERE, "corpus")
MAX_SEED = 2048
PER_TARGET = 24

COMMANDS = [
    "negotiate", "session_setup", "logoff", "tree_connect", "tree_disconnect", "create",
    "close", "flush", "read", "write", "lock", "ioctl", "cancel", "echo", "query_directory",
    "change_notify", "query_info", "set_info", "oplock_break",
]
# FSCTL codes -> selector of the fsctl target (request, response).
FSCTL = {
    0x00140204: (0, 1),  # VALIDATE_NEGOTIATE_INFO
    0x001401FC: (None, 2),  # QUERY_NETWORK_INTERFACE_INFO
    0x00140078: (None, 5),  # SRV_REQUEST_RESUME_KEY
    0x001440F2: (6, 7),  # SRV_COPYCHUNK
    0x00060194: (8, 10),  # DFS_GET_REFERRALS
}


def load(path):
    comments, hexs = {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                k, _, v = line[1:].partition(":")
                comments[k.strip()] = v.strip()
            else:
                hexs.append(line.strip())
    return comments, bytes.fromhex("".join(hexs))


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def split_chain(b):
    out, off = [], 0
    while True:
        nxt = u32(b, off + 20)
        out.append(b[off:off + nxt] if nxt else b[off:])
        if not nxt:
            return out
        off += nxt


class Seeds:
    def __init__(self):
        self.seeds = {}

    def add(self, target, data):
        if not data or len(data) > MAX_SEED:
            return
        s = self.seeds.setdefault(target, {})
        if len(s) < PER_TARGET:
            s[hashlib.sha1(data).hexdigest()[:12]] = data

    def write(self):
        for target, s in sorted(self.seeds.items()):
            d = os.path.join(CORPUS, target)
            os.makedirs(d, exist_ok=True)
            for name in os.listdir(d):
                if name.startswith("seed-"):
                    os.remove(os.path.join(d, name))
            for h, data in sorted(s.items()):
                with open(os.path.join(d, "seed-" + h), "wb") as f:
                    f.write(data)
            print(f"{target}: {len(s)} seeds", file=sys.stderr)


def main():
    seeds = Seeds()
    requests = {}  # (capture, message id) -> request message
    for name in sorted(os.listdir(GOLDEN)):
        if not name.endswith(".hex"):
            continue
        c, b = load(os.path.join(GOLDEN, name))
        if b[:4] == b"\xfdSMB":
            seeds.add("transform", b)
            continue
        seeds.add("compound", b)
        for m in split_chain(b):
            resp = u32(m, 16) & 1
            cmd = u16(m, 12)
            status = u32(m, 8)
            sel = bytes([resp])
            seeds.add("header", m[:64] + m[64:80])
            seeds.add("message", sel + m)
            seeds.add("frame", bytes([255]) + struct.pack(">I", len(m)) + m)
            body = m[64:]
            ss = u16(body, 0) if len(body) >= 2 else 0
            if resp and ss == 9 and status not in (0,):
                seeds.add("error_response", b"\x00" + body)
            if cmd < len(COMMANDS):
                if COMMANDS[cmd] == "cancel":
                    seeds.add("cmd_cancel", body)
                else:
                    seeds.add("cmd_" + COMMANDS[cmd], sel + body)
            key = (c.get("capture"), u32(m, 24))
            if not resp:
                requests[key] = m
            if cmd == 0 and len(body) > 8:  # NEGOTIATE contexts
                if not resp and len(body) >= 36:
                    off, count = u32(body, 28), u16(body, 32)
                else:
                    off, count = (u32(body, 60), u16(body, 6)) if len(body) >= 64 else (0, 0)
                if count and off < len(m):
                    seeds.add("negotiate_contexts", bytes([count]) + m[off:])
            if cmd == 1 and len(body) >= 8:  # SESSION_SETUP: SPNEGO and NTLM
                off, ln = (u16(body, 12), u16(body, 14)) if not resp else (u16(body, 4), u16(body, 6))
                tok = m[off:off + ln]
                if tok:
                    seeds.add("spnego", tok)
                    i = tok.find(b"NTLMSSP\x00")
                    if i >= 0:
                        ntlm = tok[i:]
                        kind = u32(ntlm, 8) if len(ntlm) >= 12 else 0
                        if kind in (1, 2, 3):
                            seeds.add("ntlm", bytes([kind - 1]) + ntlm)
                        if kind == 2 and len(ntlm) >= 48:
                            tl, to = u16(ntlm, 40), u32(ntlm, 44)
                            seeds.add("av_pairs", ntlm[to:to + tl])
            if cmd == 5 and len(body) >= 56:  # CREATE contexts
                off, ln = (u32(body, 48), u32(body, 52)) if not resp else (
                    (u32(body, 80), u32(body, 84)) if len(body) >= 88 else (0, 0))
                if ln:
                    seeds.add("create_contexts", sel + m[off:off + ln])
            if cmd == 11 and len(body) >= 48:  # IOCTL payloads
                code = u32(body, 4)
                if not resp:
                    off, ln = u32(body, 24), u32(body, 28)
                else:
                    off, ln = u32(body, 32), u32(body, 36)
                sels = FSCTL.get(code)
                if sels and ln and sels[resp] is not None:
                    seeds.add("fsctl", bytes([sels[resp]]) + m[off:off + ln])
            if cmd == 17 and not resp and len(body) >= 32:  # SET_INFO buffer
                itype, cls, ln, off = body[2], body[3], u32(body, 4), u16(body, 8)
                target = {1: "fscc_file", 2: "fscc_fs"}.get(itype)
                if target and ln:
                    seeds.add(target, bytes([cls]) + m[off:off + ln])
            if resp and status in (0, 0x80000005) and ss == 9 and cmd in (14, 15, 16):
                off, ln = u16(body, 2), u32(body, 4)
                buf = m[off:off + ln]
                req = requests.get(key)
                if buf and cmd == 15:
                    seeds.add("fscc_directory", b"\x00" + buf)
                elif buf and req is not None and cmd == 14:
                    seeds.add("fscc_directory", bytes([req[64 + 2]]) + buf)
                elif buf and req is not None and cmd == 16:
                    itype, cls = req[64 + 2], req[64 + 3]
                    target = {1: "fscc_file", 2: "fscc_fs"}.get(itype)
                    if target:
                        seeds.add(target, bytes([cls]) + buf)
    for name in sorted(os.listdir(os.path.join(GOLDEN, "smb1"))):
        if name.endswith(".hex"):
            seeds.add("smb1_negotiate", load(os.path.join(GOLDEN, "smb1", name))[1])
    # COMPRESSION_TRANSFORM (MS-SMB2 2.2.42): unchained LZ77, chained NONE + Pattern_V1.
    echo = bytes.fromhex("fe534d4240000000") + bytes(56) + bytes.fromhex("04000000")
    seeds.add("compression", b"\xfcSMB" + struct.pack("<IHHI", len(echo), 2, 0, 0) + echo)
    seeds.add(
        "compression",
        b"\xfcSMB" + struct.pack("<I", len(echo) + 64)
        + struct.pack("<HHI", 0, 1, len(echo)) + echo
        + struct.pack("<HHI", 4, 0, 8) + bytes([0x41, 0, 0, 0]) + struct.pack("<I", 64),
    )
    seeds.add("utf16", "seed-é-ü.txt".encode("utf-16-le"))
    seeds.write()


if __name__ == "__main__":
    main()
