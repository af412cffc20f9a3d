#!/usr/bin/env python3
"""One SMB session with impacket's client, for golden captures of what smbclient never sends:
impacket starts with an SMB1 NEGOTIATE offering "SMB 2.002" and "SMB 2.???", so smbd answers
with the SMB2 multi-protocol NEGOTIATE response (dialect 0x02FF) before the real SMB2
negotiation; then it writes a file and sends FLUSH, unencrypted.

Usage: impacket_session.py PORT USER PASSWORD SHARE     (needs python3-impacket)
"""

import sys

from impacket.smbconnection import SMBConnection


def main():
    port, user, password, share = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port)
    print(f"negotiated dialect 0x{conn.getDialect():04x}")
    # impacket 0.10 encrypts every SMB 3.x session whose server can encrypt (it sets
    # SMB2_SESSION_FLAG_ENCRYPT_DATA on its own side after SESSION_SETUP). Turn that off so the
    # FLUSH is captured in clear: the share does not require encryption, so this is a legal
    # choice for a client (MS-SMB2 3.2.5.3.1).
    connection = getattr(conn.getSMBServer(), "_Connection", None)
    if isinstance(connection, dict) and "SupportsEncryption" in connection:
        connection["SupportsEncryption"] = False
    conn.login(user, password)
    tid = conn.connectTree(share)
    fid = conn.createFile(tid, "flush.txt")
    conn.writeFile(tid, fid, b"flushed by impacket\n")
    conn.getSMBServer().flush(tid, fid)
    conn.closeFile(tid, fid)
    conn.deleteFile(share, "flush.txt")
    conn.disconnectTree(tid)
    conn.logoff()
    print("ok")


if __name__ == "__main__":
    main()
