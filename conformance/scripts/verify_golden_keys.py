#!/usr/bin/env python3
"""Checks the SMB3 keys recorded in the golden fixtures against the captured bytes.

For every fixture that carries `# encryption_key_*` / `# signing_key` comments (from smbclient's
`debug encryption = yes` dump):
  * TRANSFORM frames must decrypt and authenticate (AES-128-GCM, else AES-128-CCM; MS-SMB2
    3.1.4.3: AAD = the 32 header bytes from Nonce on, tag = Signature) into SMB2 messages whose
    SessionId equals the TRANSFORM's;
  * signed SMB2 messages must verify with the signing key (AES-128-GMAC, AES-128-CMAC or
    HMAC-SHA256 over the message with the signature zeroed, MS-SMB2 3.1.4.1).
Needs pycryptodomex (Debian: python3-pycryptodome, pulled in by python3-impacket).
Usage: verify_golden_keys.py GOLDEN_DIR
"""

import hashlib
import hmac
import os
import struct
import sys

from Cryptodome.Cipher import AES
from Cryptodome.Hash import CMAC


def parse(path):
    comments, hexs = {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                k, _, v = line[1:].partition(":")
                comments[k.strip()] = v.strip()
            else:
                hexs.append(line.strip())
    return comments, bytes.fromhex("".join(hexs))


def decrypt(m, key):
    hdr_aad = m[20:52]
    tag = m[4:20]
    body = m[52:]
    for name, nonce_len, mode in (("AES-128-GCM", 12, AES.MODE_GCM), ("AES-128-CCM", 11, AES.MODE_CCM)):
        c = AES.new(key, mode, nonce=m[20:20 + nonce_len], mac_len=16)
        c.update(hdr_aad)
        try:
            return name, c.decrypt_and_verify(body, tag)
        except ValueError:
            continue
    return None, None


def verify_signature(m, key):
    """Which algorithm's signature matches over the first message of m (whole compound if
    NextCommand is 0)."""
    nxt = struct.unpack_from("<I", m, 20)[0]
    msg = m[:nxt] if nxt else m
    sig = msg[48:64]
    zeroed = msg[:48] + bytes(16) + msg[64:]
    mid = msg[24:32]
    flags = struct.unpack_from("<I", msg, 16)[0]
    cmd = struct.unpack_from("<H", msg, 12)[0]
    role = (1 if flags & 1 else 0) | (2 if cmd == 12 else 0)
    nonce = mid + struct.pack("<I", role)
    g = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    g.update(zeroed)
    if g.digest() == sig:
        return "AES-128-GMAC"
    c = CMAC.new(key, ciphermod=AES)
    c.update(zeroed)
    if c.digest() == sig:
        return "AES-128-CMAC"
    if hmac.new(key, zeroed, hashlib.sha256).digest()[:16] == sig:
        return "HMAC-SHA256"
    return None


def main():
    d = sys.argv[1]
    results, bad = {}, []
    for f in sorted(os.listdir(d)):
        if not f.endswith(".hex"):
            continue
        c, m = parse(os.path.join(d, f))
        if m[:4] == b"\xfdSMB" and "encryption_key_c2s" in c:
            key = bytes.fromhex(c["encryption_key_c2s" if c["direction"] == "c2s"
                                  else "encryption_key_s2c"])
            alg, plain = decrypt(m, key)
            if plain is None or plain[:4] != b"\xfeSMB" or plain[40:48] != m[44:52]:
                bad.append(f"{f}: does not decrypt with the recorded key")
            else:
                results[f"decrypt {alg}"] = results.get(f"decrypt {alg}", 0) + 1
        elif m[:4] == b"\xfeSMB" and "signing_key" in c and struct.unpack_from("<I", m, 16)[0] & 8:
            alg = verify_signature(m, bytes.fromhex(c["signing_key"]))
            if alg is None:
                bad.append(f"{f}: signature does not verify with the recorded signing key")
            else:
                results[f"signature {alg}"] = results.get(f"signature {alg}", 0) + 1
    for k in sorted(results):
        print(f"  {results[k]:3d} {k}")
    for b in bad:
        print("BAD", b)
    if bad or not results:
        print("FAIL: recorded keys do not match the captures")
        sys.exit(1)
    print("PASS: recorded keys verify every keyed signature and TRANSFORM")


if __name__ == "__main__":
    main()
