#!/usr/bin/env python3
"""Turn loopback captures of smbclient <-> smbd into golden SMB2 fixtures.

Standard library only. Reads classic libpcap files (tshark -F pcap), reassembles each TCP
direction by sequence number, cuts the byte stream at the 4-byte Direct TCP headers (RFC 1002
style: a zero byte and a 24-bit big-endian length, MS-SMB2 2.1) and writes one file per SMB2
message (compounds stay whole), keeping the first message of every (direction, command chain,
status) per capture, every NEGOTIATE and SESSION_SETUP, and the first few TRANSFORM frames.

Usage: pcap_to_golden.py OUT_DIR MANIFEST
MANIFEST lines: name|dialect|pcap|server port|only|max|client output|notes
  dialect: 3.1.1 etc. or auto (taken from the NEGOTIATE response); only: comma-separated
  command names to keep (empty: all; COMPOUND: compound chains; TRANSFORM); max: cap (0: none);
  client output: smbclient's output with `debug encryption = yes` key dumps (may be empty)
Existing *.hex files in OUT_DIR are replaced.
"""

import os
import struct
import sys

COMMANDS = [
    "NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT", "CREATE",
    "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO", "QUERY_DIRECTORY",
    "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK",
]

STATUS = {
    0x00000000: "STATUS_SUCCESS",
    0x00000103: "STATUS_PENDING",
    0x0000010C: "STATUS_NOTIFY_ENUM_DIR",
    0x80000005: "STATUS_BUFFER_OVERFLOW",
    0x80000006: "STATUS_NO_MORE_FILES",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC000000F: "STATUS_NO_SUCH_FILE",
    0xC0000010: "STATUS_INVALID_DEVICE_REQUEST",
    0xC0000016: "STATUS_MORE_PROCESSING_REQUIRED",
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC0000023: "STATUS_BUFFER_TOO_SMALL",
    0xC0000033: "STATUS_OBJECT_NAME_INVALID",
    0xC0000034: "STATUS_OBJECT_NAME_NOT_FOUND",
    0xC0000035: "STATUS_OBJECT_NAME_COLLISION",
    0xC000003A: "STATUS_OBJECT_PATH_NOT_FOUND",
    0xC0000043: "STATUS_SHARING_VIOLATION",
    0xC0000054: "STATUS_FILE_LOCK_CONFLICT",
    0xC0000055: "STATUS_LOCK_NOT_GRANTED",
    0xC000006D: "STATUS_LOGON_FAILURE",
    0xC00000BA: "STATUS_FILE_IS_A_DIRECTORY",
    0xC00000BB: "STATUS_NOT_SUPPORTED",
    0xC00000CC: "STATUS_BAD_NETWORK_NAME",
    0xC0000101: "STATUS_DIRECTORY_NOT_EMPTY",
    0xC0000120: "STATUS_CANCELLED",
    0xC0000128: "STATUS_FILE_CLOSED",
    0xC000019C: "STATUS_FS_DRIVER_REQUIRED",
    0xC0000203: "STATUS_USER_SESSION_DELETED",
    0xC0000225: "STATUS_NOT_FOUND",
    0xC0000275: "STATUS_NOT_A_REPARSE_POINT",
    0x0000010B: "STATUS_NOTIFY_CLEANUP",
    0x00000108: "STATUS_OPLOCK_BREAK_IN_PROGRESS",
    0x40000000: "STATUS_OBJECT_NAME_EXISTS",
    0x8000002D: "STATUS_STOPPED_ON_SYMLINK",
    0xC0000003: "STATUS_INVALID_INFO_CLASS",
    0xC0000008: "STATUS_INVALID_HANDLE",
    0xC0000011: "STATUS_END_OF_FILE",
    0xC000004F: "STATUS_EAS_NOT_SUPPORTED",
    0xC0000052: "STATUS_NO_EAS_ON_FILE",
    0xC0000056: "STATUS_DELETE_PENDING",
    0xC000007E: "STATUS_RANGE_NOT_LOCKED",
    0xC00000C9: "STATUS_NETWORK_NAME_DELETED",
    0xC00001A1: "STATUS_INVALID_LOCK_RANGE",
}

FSCTLS = {
    0x00140204: "FSCTL_VALIDATE_NEGOTIATE_INFO",
    0x001401FC: "FSCTL_QUERY_NETWORK_INTERFACE_INFO",
    0x0011C017: "FSCTL_PIPE_TRANSCEIVE",
    0x00060194: "FSCTL_DFS_GET_REFERRALS",
    0x000601B0: "FSCTL_DFS_GET_REFERRALS_EX",
    0x00140078: "FSCTL_SRV_REQUEST_RESUME_KEY",
    0x000900A8: "FSCTL_GET_REPARSE_POINT",
    0x00090064: "FSCTL_GET_SHADOW_COPY_DATA",
    0x000900C4: "FSCTL_SET_SPARSE",
    0x001440F2: "FSCTL_SRV_COPYCHUNK",
    0x001480F2: "FSCTL_SRV_COPYCHUNK_WRITE",
    0x00144064: "FSCTL_SRV_ENUMERATE_SNAPSHOTS",
    0x000900C0: "FSCTL_CREATE_OR_GET_OBJECT_ID",
}

NEG_CONTEXTS = {
    1: "PREAUTH_INTEGRITY", 2: "ENCRYPTION", 3: "COMPRESSION", 5: "NETNAME",
    6: "TRANSPORT", 7: "RDMA_TRANSFORM", 8: "SIGNING",
}

INFO_TYPES = {1: "FILE", 2: "FILESYSTEM", 3: "SECURITY", 4: "QUOTA"}

DIALECT_LABEL = {"2.0.2": "smb202", "2.1": "smb210", "3.0": "smb300", "3.0.2": "smb302",
                 "3.1.1": "smb311"}

MAX_FIXTURE = 16384  # bytes; larger messages (big READ/WRITE payloads) are not kept
TRANSFORMS_PER_DIRECTION = 2


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


# ---------------------------------------------------------------- pcap reading + TCP reassembly

def read_pcap(path):
    """Yields (src_ip, src_port, dst_ip, dst_port, seq, flags, payload) for every TCP packet."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap (write it with tshark -F pcap)")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from(endian + "IIII", data, off)
        off += 16
        pkt = data[off:off + incl]
        off += incl
        ip = link_payload(linktype, pkt)
        if ip is None:
            continue
        seg = parse_ip_tcp(ip)
        if seg is not None:
            yield seg


def link_payload(linktype, pkt):
    if linktype == 1:  # Ethernet (Linux lo uses zero MACs)
        if len(pkt) < 14:
            return None
        etype = struct.unpack_from(">H", pkt, 12)[0]
        return pkt[14:] if etype in (0x0800, 0x86DD) else None
    if linktype == 113:  # Linux cooked v1
        return pkt[16:] if len(pkt) >= 16 else None
    if linktype == 276:  # Linux cooked v2
        return pkt[20:] if len(pkt) >= 20 else None
    if linktype == 0:  # BSD loopback
        return pkt[4:] if len(pkt) >= 4 else None
    if linktype in (101, 228, 229):  # raw IP
        return pkt
    raise ValueError(f"unsupported link type {linktype}")


def parse_ip_tcp(ip):
    if len(ip) < 1:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0xF) * 4
        if len(ip) < ihl or ip[9] != 6:
            return None
        total = struct.unpack_from(">H", ip, 2)[0]
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:total]
    elif version == 6:
        if len(ip) < 40 or ip[6] != 6:
            return None
        plen = struct.unpack_from(">H", ip, 4)[0]
        src, dst = ip[8:24], ip[24:40]
        tcp = ip[40:40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", tcp, 0)
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return (src, sport, dst, dport, seq, flags, tcp[doff:])


def reassemble(path, server_port):
    """Returns a list of connections, each a dict dir -> bytes, in order of first packet."""
    conns = {}
    order = []
    for src, sport, dst, dport, seq, flags, payload in read_pcap(path):
        if dport == server_port:
            key, direction = (src, sport), "c2s"
        elif sport == server_port:
            key, direction = (dst, dport), "s2c"
        else:
            continue
        if key not in conns:
            conns[key] = {"c2s": {"isn": None, "segs": {}}, "s2c": {"isn": None, "segs": {}}}
            order.append(key)
        st = conns[key][direction]
        if flags & 0x02:  # SYN: data starts at seq + 1
            st["isn"] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        if st["isn"] is None:
            raise ValueError(f"{path}: capture started after the TCP handshake")
        rel = (seq - st["isn"]) & 0xFFFFFFFF
        st["segs"].setdefault(rel, payload)  # retransmissions keep the first copy
    out = []
    for key in order:
        streams = {}
        for direction in ("c2s", "s2c"):
            buf = bytearray()
            for rel in sorted(conns[key][direction]["segs"]):
                seg = conns[key][direction]["segs"][rel]
                if rel > len(buf):
                    raise ValueError(f"{path}: gap in the {direction} stream at {len(buf)}")
                buf += seg[len(buf) - rel:]
            streams[direction] = bytes(buf)
        out.append(streams)
    return out


def deframe(stream):
    """Cuts a Direct TCP byte stream into messages; yields (stream offset, message)."""
    off = 0
    while off + 4 <= len(stream):
        if stream[off] != 0:
            raise ValueError(f"bad Direct TCP header at {off}")
        length = int.from_bytes(stream[off + 1:off + 4], "big")
        if off + 4 + length > len(stream):
            raise ValueError("stream ends inside a message")
        yield off, stream[off + 4:off + 4 + length]
        off += 4 + length


def interleave(streams):
    """Both directions as (direction, index, message): plaintext SMB2 ordered by MessageId
    (each request before its response), everything else (TRANSFORM frames) after, in stream
    order. Only numbering and "first of its kind" depend on this order."""
    msgs = []
    for direction in ("c2s", "s2c"):
        for idx, (_, m) in enumerate(deframe(streams[direction])):
            msgs.append((direction, idx, m))

    def sort_key(item):
        direction, idx, m = item
        if m[:4] == b"\xfeSMB" and len(m) >= 64:
            return (u64(m, 24), 0 if direction == "c2s" else 1, idx)
        return (1 << 64, idx, 0 if direction == "c2s" else 1)

    return sorted(msgs, key=sort_key)


# ---------------------------------------------------------------- describing messages

def chain(m):
    """[(offset, command, status, flags, message_id)] of an SMB2 (compound) message."""
    out = []
    off = 0
    while True:
        if off + 64 > len(m) or m[off:off + 4] != b"\xfeSMB":
            raise ValueError("truncated or non-SMB2 compound element")
        out.append((off, u16(m, off + 12), u32(m, off + 8), u32(m, off + 16), u64(m, off + 24)))
        nxt = u32(m, off + 20)
        if nxt == 0:
            return out
        off += nxt


def cmd_name(c):
    return COMMANDS[c] if c < len(COMMANDS) else f"0x{c:04x}"


def status_text(s):
    return f"{STATUS.get(s, 'unknown')} (0x{s:08x})"


def create_contexts(m, base, ctx_off, ctx_len):
    names = []
    if ctx_off == 0 or ctx_len == 0:
        return names
    pos = base + ctx_off
    end = min(len(m), pos + ctx_len)
    while pos + 16 <= end:
        nxt = u32(m, pos)
        noff, nlen = u16(m, pos + 4), u16(m, pos + 6)
        raw = m[pos + noff:pos + noff + nlen]
        names.append(raw.decode("latin-1") if all(32 <= b < 127 for b in raw) else raw.hex())
        if nxt == 0:
            break
        pos += nxt
    return names


def notes_for(m, off, cmd, is_resp):
    """Human notes about one SMB2 message starting at off (best effort, never fatal)."""
    b = off + 64
    n = []
    try:
        if cmd == 0 and not is_resp:
            count = u16(m, b + 2)
            dialects = [f"0x{u16(m, b + 36 + 2 * i):04x}" for i in range(count)]
            n.append("dialects " + ",".join(dialects))
            if 0x0311 in [u16(m, b + 36 + 2 * i) for i in range(count)]:
                n.append("contexts " + ",".join(neg_contexts(m, off + u32(m, b + 28),
                                                             u16(m, b + 32))))
        elif cmd == 0:
            d = u16(m, b + 4)
            n.append(f"dialect 0x{d:04x}, security mode 0x{u16(m, b + 2):04x}")
            if d == 0x0311:
                n.append("contexts " + ",".join(neg_contexts(m, off + u32(m, b + 60),
                                                             u16(m, b + 6))))
        elif cmd == 1 and is_resp:
            n.append(f"session flags 0x{u16(m, b + 2):04x}")
        elif cmd == 3 and not is_resp:
            name = m[off + u16(m, b + 4):off + u16(m, b + 4) + u16(m, b + 6)]
            n.append("path " + name.decode("utf-16-le", "replace"))
        elif cmd == 3 and is_resp and u16(m, b) == 16:
            n.append(f"share type {m[b + 2]}, share flags 0x{u32(m, b + 4):08x}, "
                     f"capabilities 0x{u32(m, b + 8):08x}")
        elif cmd == 5 and not is_resp and u16(m, b) == 57:
            name = m[off + u16(m, b + 44):off + u16(m, b + 44) + u16(m, b + 46)]
            n.append('name "' + name.decode("utf-16-le", "replace") + '"')
            n.append(f"disposition {u32(m, b + 36)}, options 0x{u32(m, b + 40):08x}, "
                     f"access 0x{u32(m, b + 24):08x}")
            ctx = create_contexts(m, off, u32(m, b + 48), u32(m, b + 52))
            if ctx:
                n.append("create contexts " + ",".join(ctx))
        elif cmd == 5 and is_resp and u16(m, b) == 89:
            ctx = create_contexts(m, off, u32(m, b + 80), u32(m, b + 84))
            n.append(f"create action {u32(m, b + 4)}, oplock {m[b + 2]}")
            if ctx:
                n.append("create contexts " + ",".join(ctx))
        elif cmd == 11 and u16(m, b) in (57, 49):
            code = u32(m, b + 4)
            n.append(FSCTLS.get(code, f"ctl code 0x{code:08x}"))
        elif cmd in (16, 17) and not is_resp:
            n.append(f"info type {INFO_TYPES.get(m[b + 2], m[b + 2])}, class {m[b + 3]}")
        elif cmd == 14 and not is_resp:
            n.append(f"class {m[b + 2]}, flags 0x{m[b + 3]:02x}")
        elif cmd == 8 and not is_resp:
            n.append(f"length {u32(m, b + 4)}, offset {u64(m, b + 8)}")
        elif cmd == 9 and not is_resp:
            n.append(f"length {u32(m, b + 4)}, offset {u64(m, b + 8)}")
        elif cmd == 18:
            size = u16(m, b)
            kind = {24: "oplock break", 36: "lease break notification",
                    44: "lease break acknowledgment/response"}.get(size, f"size {size}")
            if u64(m, off + 24) == 0xFFFFFFFFFFFFFFFF:
                kind += " (unsolicited notification, MessageId all ones)"
            n.append(kind)
        elif cmd == 10 and not is_resp:
            n.append(f"{u16(m, b + 2)} lock element(s), flags 0x{u32(m, b + 24 + 16):08x}")
    except (struct.error, IndexError, ValueError):
        n.append("(notes incomplete)")
    return n


def neg_contexts(m, pos, count):
    names = []
    for _ in range(count):
        pos = (pos + 7) & ~7
        if pos + 8 > len(m):
            break
        ctype, dlen = u16(m, pos), u16(m, pos + 2)
        names.append(NEG_CONTEXTS.get(ctype, f"0x{ctype:04x}"))
        pos += 8 + dlen
    return names


# ---------------------------------------------------------------- selection and output

def variant(m, cmd, is_resp):
    """What makes two messages of one command worth keeping separately: the create contexts,
    the FSCTL, the information class, the kind of oplock/lease break message."""
    b = 64
    try:
        if cmd == 5 and not is_resp and u16(m, b) == 57:
            return tuple(create_contexts(m, 0, u32(m, b + 48), u32(m, b + 52)))
        if cmd == 5 and is_resp and u16(m, b) == 89:
            return tuple(create_contexts(m, 0, u32(m, b + 80), u32(m, b + 84)))
        if cmd == 11 and u16(m, b) in (57, 49):
            return (u32(m, b + 4),)
        if cmd == 3 and not is_resp and u16(m, b) == 9:
            return (m[u16(m, b + 4):u16(m, b + 4) + u16(m, b + 6)].decode("utf-16-le", "replace"),)
        if cmd == 3 and is_resp and u16(m, b) == 16:
            return (m[b + 2], u32(m, b + 4))
        if cmd in (16, 17) and not is_resp:
            return (m[b + 2], m[b + 3])
        if cmd == 14 and not is_resp:
            return (m[b + 2],)
        if cmd == 18:
            return (u16(m, b), u64(m, 24) == 0xFFFFFFFFFFFFFFFF)
    except (struct.error, IndexError):
        pass
    return ()


def select(scenario, streams_list):
    """Picks the fixtures of one capture, as request/response pairs (same connection and
    MessageId). A message starts a new pair when its (direction, command chain, status,
    variant) was not seen before in this capture; every NEGOTIATE and SESSION_SETUP is kept.
    scenario["only"]: command names to consider (empty: all; "COMPOUND": compound chains;
    "TRANSFORM": encrypted frames); scenario["max"]: cap on the number of pairs (0: none).
    Up to TRANSFORMS_PER_DIRECTION encrypted frames per direction are kept."""
    only = scenario["only"]
    marked = set()
    seen = set()
    ordered = []
    for conn, streams in enumerate(streams_list):
        for direction, _, m in interleave(streams):
            ordered.append((conn, direction, m))
    for conn, direction, m in ordered:
        if m[:4] != b"\xfeSMB" or len(m) > MAX_FIXTURE:
            continue
        ch = chain(m)
        cmds = tuple(c for _, c, _, _, _ in ch)
        if only and not (cmd_name(cmds[0]) in only or (len(cmds) > 1 and "COMPOUND" in only)):
            continue
        mid = ch[0][4]
        is_resp = bool(ch[0][3] & 1)
        key = (direction, cmds, ch[0][2], variant(m, cmds[0], is_resp))
        if (cmds[0] in (0, 1) and not only) or key not in seen:
            if scenario["max"] and (conn, mid) not in marked and len(marked) >= scenario["max"]:
                continue
            seen.add(key)
            marked.add((conn, mid))
    keep = []
    transforms = {"c2s": 0, "s2c": 0}
    for conn, direction, m in ordered:
        if m[:4] == b"\xfdSMB":
            if (not only or "TRANSFORM" in only) \
                    and transforms[direction] < TRANSFORMS_PER_DIRECTION \
                    and len(m) <= MAX_FIXTURE:
                transforms[direction] += 1
                keep.append((direction, m))
            continue
        if m[:4] != b"\xfeSMB" or len(m) > MAX_FIXTURE:
            continue
        if (conn, u64(m, 24)) in marked:
            keep.append((direction, m))
    return keep


def negotiated_dialect(streams_list):
    """The dialect of the first SMB2 NEGOTIATE response, as "3.1.1" etc."""
    names = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}
    for streams in streams_list:
        for _, m in deframe(streams["s2c"]):
            if m[:4] == b"\xfeSMB" and len(m) >= 70 and u16(m, 12) == 0:
                d = u16(m, 68)
                if d in names:
                    return names[d]
    raise ValueError("no SMB2 NEGOTIATE response with a known dialect")


KEY_LABELS = {
    "Session Id": "session_id",
    "Session Key": "session_key",
    "Signing Key": "signing_key",
    "App Key": "application_key",
    "ServerIn Key": "encryption_key_c2s",
    "ServerOut Key": "encryption_key_s2c",
}


def read_keys(path):
    """Parses the `debug encryption = yes` dump of one smbclient run (Samba prints a hex dump
    per key, 16 bytes a line, continuation lines without the label). Returns {comment: hex}
    for the first session only, or {} without a dump."""
    keys = {}
    if not path or not os.path.exists(path):
        return keys
    current = None
    with open(path, errors="replace") as f:
        for line in f:
            label = line.split("[", 1)[0].strip()
            if label in KEY_LABELS:
                current = KEY_LABELS[label]
                if current in keys:  # a second session: keep the first one only
                    break
                keys[current] = ""
            elif not (label == "" and current and "[" in line):
                current = None
                continue
            rest = line.split("]", 1)[1] if "]" in line else ""
            hexpart = rest[:50]  # up to 16 bytes "xx xx ... " before the ASCII column
            keys[current] += "".join(t for t in hexpart.split()
                                     if len(t) == 2 and all(c in "0123456789abcdefABCDEF" for c in t))
    keys = {k: v.lower() for k, v in keys.items()}
    if len(keys.get("session_id", "")) == 16:  # dumped as the 8 wire bytes (little-endian)
        keys["session_id"] = f"0x{int.from_bytes(bytes.fromhex(keys['session_id']), 'little'):016x}"
    return keys


def write_fixture(out_dir, number, scen, direction, m):
    label = DIALECT_LABEL[scen["dialect"]]
    lines = [
        f"# capture: {scen['name']}",
        f"# dialect: {scen['dialect']}",
        f"# direction: {direction}",
    ]
    if m[:4] == b"\xfdSMB":
        cmd = "transform"
        lines += [
            "# command: TRANSFORM",
            f"# session_id: 0x{u64(m, 44):016x}",
            f"# original_message_size: {u32(m, 36)}",
            f"# flags: 0x{u16(m, 42):04x}",
        ]
        notes = ["encrypted SMB2 message(s); decrypt with encryption_key_" + direction
                 if scen["keys"] else
                 "encrypted SMB2 message(s); no key recorded, only the header decodes"]
    else:
        ch = chain(m)
        first = ch[0]
        cmd = cmd_name(first[1]).lower()
        is_resp = bool(first[3] & 1)
        lines += [
            f"# command: {cmd_name(first[1])}",
            f"# status: {status_text(first[2])}",
            f"# message_id: {first[4]}",
            f"# flags: 0x{first[3]:08x}" + (" (signed)" if first[3] & 8 else ""),
        ]
        if len(ch) > 1:
            lines.append("# compound: yes (" + "+".join(cmd_name(c) for _, c, _, _, _ in ch)
                         + ", statuses " + ",".join(STATUS.get(s, f"0x{s:08x}")
                                                    for _, _, s, _, _ in ch) + ")")
        else:
            lines.append("# compound: no")
        notes = []
        for off, c, _, fl, _ in ch:
            notes += notes_for(m, off, c, bool(fl & 1))
        if first[3] & 2 and first[2] == 0x103:
            notes.append("interim async response")
        if not is_resp and first[2] != 0:
            notes.append("request carries a channel sequence/status field")
    lines.append(f"# length: {len(m)}")
    for k, v in scen["keys"].items():
        lines.append(f"# {k}: {v}")
    if scen["notes"]:
        notes.insert(0, scen["notes"])
    lines.append("# notes: " + "; ".join(notes))
    hexstr = m.hex()
    lines += [hexstr[i:i + 64] for i in range(0, len(hexstr), 64)]
    name = f"{number:03d}-{label}-{direction}-{cmd}.hex"
    with open(os.path.join(out_dir, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    return name


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir, manifest = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".hex"):
            os.remove(os.path.join(out_dir, f))
    number = 1
    summary = {}
    with open(manifest) as mf:
        for line in mf:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, dialect, pcap, port, only, cap, out, notes = line.split("|", 7)
            conns = reassemble(pcap, int(port))
            if not conns:
                raise SystemExit(f"{pcap}: no SMB connection captured")
            if dialect == "auto":
                dialect = negotiated_dialect(conns)
            scen = {"name": name, "dialect": dialect, "notes": notes,
                    "only": set(filter(None, only.split(","))), "max": int(cap or 0),
                    "keys": read_keys(out)}
            for direction, m in select(scen, conns):
                fname = write_fixture(out_dir, number, scen, direction, m)
                number += 1
                k = fname.split("-", 1)[1].rsplit(".", 1)[0]
                summary[k] = summary.get(k, 0) + 1
    print(f"wrote {number - 1} fixtures to {out_dir}")
    for k in sorted(summary):
        print(f"  {summary[k]:3d}  {k}")


if __name__ == "__main__":
    main()
