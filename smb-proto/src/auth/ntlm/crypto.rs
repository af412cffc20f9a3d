//! NTLMv2 cryptography (MS-NLMP 3.3.2, 3.4.4, 3.4.5, 6) built on RustCrypto `md4`, `md-5`,
//! `hmac` and `rc4`.
//!
//! Owns: NTOWFv1/NTOWFv2, the NTLMv2 response and session base key, KXKEY, RC4 key exchange,
//! the MIC, SIGNKEY/SEALKEY and the NTLM signature used for SPNEGO's mechListMIC.
//! Must not: parse messages or keep protocol state; no hand-written primitives.

use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::consts::U16;
use rc4::{KeyInit, Rc4, StreamCipher};

use super::flags;

type HmacMd5 = Hmac<Md5>;

/// An NT hash, NTOWFv1 = MD4(UTF-16LE(password)). Never printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NtHash(pub [u8; 16]);

impl std::fmt::Debug for NtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NtHash(..)")
    }
}

impl NtHash {
    /// NTOWFv1(password) (MS-NLMP 3.3.1).
    pub fn from_password(password: &str) -> Self {
        let mut h = Md4::new();
        for u in password.encode_utf16() {
            h.update(u.to_le_bytes());
        }
        Self(h.finalize().into())
    }
}

/// HMAC_MD5 over the concatenation of `parts`.
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so this constructor cannot fail.
    let mut m = <HmacMd5 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// MD5 over the concatenation of `parts`.
pub fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// NTOWFv2 = HMAC_MD5(NTOWFv1, UTF-16LE(Uppercase(User) || UserDom)) (MS-NLMP 3.3.2).
pub fn ntowfv2(nt_hash: &NtHash, user: &str, domain: &str) -> [u8; 16] {
    let mut ud = Vec::with_capacity((user.len() + domain.len()) * 2);
    for u in user
        .to_uppercase()
        .encode_utf16()
        .chain(domain.encode_utf16())
    {
        ud.extend_from_slice(&u.to_le_bytes());
    }
    hmac_md5(&nt_hash.0, &[&ud])
}

/// The NTLMv2_CLIENT_CHALLENGE blob called `temp` in MS-NLMP 3.3.2:
/// RespType 1, HiRespType 1, Z(6), Time, ClientChallenge, Z(4), AV pairs, Z(4).
pub fn client_blob(time: u64, client_challenge: &[u8; 8], av_pairs: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(32 + av_pairs.len());
    t.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&time.to_le_bytes());
    t.extend_from_slice(client_challenge);
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(av_pairs);
    t.extend_from_slice(&[0; 4]);
    t
}

/// NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp).
pub fn nt_proof_str(
    response_key_nt: &[u8; 16],
    server_challenge: &[u8; 8],
    temp: &[u8],
) -> [u8; 16] {
    hmac_md5(response_key_nt, &[server_challenge, temp])
}

/// SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr). For NTLMv2, KXKEY returns it
/// unchanged (MS-NLMP 3.4.5.1), so this is also the KeyExchangeKey.
pub fn session_base_key(response_key_nt: &[u8; 16], nt_proof: &[u8; 16]) -> [u8; 16] {
    hmac_md5(response_key_nt, &[nt_proof])
}

/// LMv2 response = HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge.
pub fn lmv2_response(
    response_key_lm: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> [u8; 24] {
    let mac = hmac_md5(response_key_lm, &[server_challenge, client_challenge]);
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&mac);
    out[16..].copy_from_slice(client_challenge);
    out
}

/// RC4K(key, data) with a fresh cipher (used for the key exchange).
pub fn rc4(key: &[u8; 16], data: &[u8; 16]) -> [u8; 16] {
    let mut out = *data;
    Rc4::<U16>::new(key.into()).apply_keystream(&mut out);
    out
}

/// MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE), the last with
/// its MIC field zeroed by the caller (MS-NLMP 3.1.5.1.2).
pub fn mic(
    exported_session_key: &[u8; 16],
    negotiate: &[u8],
    challenge: &[u8],
    authenticate: &[u8],
) -> [u8; 16] {
    hmac_md5(exported_session_key, &[negotiate, challenge, authenticate])
}

const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// The per-direction keys derived from the exported session key (MS-NLMP 3.4.5.2, 3.4.5.3).
/// Only 128-bit sealing is supported: we require NTLMSSP_NEGOTIATE_128.
#[derive(Clone)]
pub struct SessionKeys {
    /// The exported session key itself (the SMB2 session key).
    pub exported: [u8; 16],
    /// The negotiated flags.
    pub flags: u32,
    /// ClientSigningKey.
    pub client_sign: [u8; 16],
    /// ServerSigningKey.
    pub server_sign: [u8; 16],
    /// ClientSealingKey.
    pub client_seal: [u8; 16],
    /// ServerSealingKey.
    pub server_seal: [u8; 16],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("flags", &format_args!("{:#010x}", self.flags))
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// SIGNKEY and SEALKEY for both directions (extended session security, 128-bit).
    pub fn derive(exported: [u8; 16], negotiated_flags: u32) -> Self {
        Self {
            exported,
            flags: negotiated_flags,
            client_sign: md5(&[&exported, CLIENT_SIGN]),
            server_sign: md5(&[&exported, SERVER_SIGN]),
            client_seal: md5(&[&exported, CLIENT_SEAL]),
            server_seal: md5(&[&exported, SERVER_SEAL]),
        }
    }

    /// A sealing handle (RC4 state) for one direction.
    pub fn seal_handle(&self, client_to_server: bool) -> Rc4<U16> {
        let k = if client_to_server {
            &self.client_seal
        } else {
            &self.server_seal
        };
        Rc4::<U16>::new(k.into())
    }

    /// The NTLMSSP_MESSAGE_SIGNATURE with extended session security (MS-NLMP 3.4.4.2):
    /// Version 1, HMAC_MD5(SigningKey, SeqNum || Message)[0..8] (RC4-sealed with the
    /// direction's sealing handle when KEY_EXCH was negotiated), SeqNum.
    pub fn mac(
        &self,
        client_to_server: bool,
        handle: &mut Rc4<U16>,
        seq: u32,
        msg: &[u8],
    ) -> [u8; 16] {
        let key = if client_to_server {
            &self.client_sign
        } else {
            &self.server_sign
        };
        let full = hmac_md5(key, &[&seq.to_le_bytes(), msg]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&full[..8]);
        if self.flags & flags::KEY_EXCH != 0 {
            handle.apply_keystream(&mut checksum);
        }
        let mut sig = [0u8; 16];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq.to_le_bytes());
        sig
    }

    /// The signature of a first message (sequence number 0, fresh sealing handle), which is
    /// what SPNEGO's mechListMIC uses (MS-SPNG 3.1.5.1, 3.3.5.1).
    pub fn first_mac(&self, client_to_server: bool, msg: &[u8]) -> [u8; 16] {
        let mut h = self.seal_handle(client_to_server);
        self.mac(client_to_server, &mut h, 0, msg)
    }
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
