//! MS-NLMP 4.2.4 (NTLMv2 Authentication) worked example: every intermediate value, the
//! CHALLENGE and AUTHENTICATE messages byte for byte, and the 4.2.4.4 GSS_WrapEx signature.
//!
//! Every expected constant below is copied from MS-NLMP section 4.2.4 (4.2.4.1.1 NTOWFv2,
//! 4.2.4.1.2 Session Base Key, 4.2.4.1.3 temp, 4.2.4.2.1 LMv2 Response, 4.2.4.2.2 NTLMv2
//! Response, 4.2.4.2.3 Encrypted Session Key, 4.2.4.3 Messages, 4.2.4.4 GSS_WrapEx Examples).
//! The inputs (4.2.1 Common Values): User "User", UserDom "Domain", Passwd "Password",
//! ServerName "Server", Workstation "COMPUTER", RandomSessionKey 0x55 x16, Time 0,
//! ClientChallenge 0xaa x8, ServerChallenge 01 23 45 67 89 ab cd ef.

use bytes::Bytes;
use rc4::StreamCipher;
use smb_proto::auth::ntlm::av_pairs::{AvId, AvPairs};
use smb_proto::auth::ntlm::crypto::{self, NtHash, SessionKeys};
use smb_proto::auth::ntlm::flags;
use smb_proto::auth::ntlm::messages::{Authenticate, Challenge, Version, encode_string};

fn h(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("test vector hex")
}

fn a16(s: &str) -> [u8; 16] {
    h(s).try_into().expect("16 bytes")
}

const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

// 4.2.4.3: CHALLENGE_MESSAGE.
const CHALLENGE: &str = "
    4e 54 4c 4d 53 53 50 00 02 00 00 00 0c 00 0c 00
    38 00 00 00 33 82 8a e2 01 23 45 67 89 ab cd ef
    00 00 00 00 00 00 00 00 24 00 24 00 44 00 00 00
    06 00 70 17 00 00 00 0f 53 00 65 00 72 00 76 00
    65 00 72 00 02 00 0c 00 44 00 6f 00 6d 00 61 00
    69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00
    65 00 72 00 00 00 00 00";

// 4.2.4.3: AUTHENTICATE_MESSAGE.
const AUTHENTICATE: &str = "
    4e 54 4c 4d 53 53 50 00 03 00 00 00 18 00 18 00
    6c 00 00 00 54 00 54 00 84 00 00 00 0c 00 0c 00
    48 00 00 00 08 00 08 00 54 00 00 00 10 00 10 00
    5c 00 00 00 10 00 10 00 d8 00 00 00 35 82 88 e2
    05 01 28 0a 00 00 00 0f 44 00 6f 00 6d 00 61 00
    69 00 6e 00 55 00 73 00 65 00 72 00 43 00 4f 00
    4d 00 50 00 55 00 54 00 45 00 52 00 86 c3 50 97
    ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa
    aa aa aa aa 68 cd 0a b8 51 e5 1c 96 aa bc 92 7b
    eb ef 6a 1c 01 01 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00
    02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00
    01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00
    00 00 00 00 00 00 00 00 c5 da d2 54 4f c9 79 90
    94 ce 1c e9 0b c9 d0 3e";

#[test]
fn intermediate_values() {
    let nt_hash = NtHash::from_password("Password");
    // 4.2.2.1.2 / NTOWFv1("Password").
    assert_eq!(
        nt_hash.0,
        a16("a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52")
    );

    // 4.2.4.1.1: ResponseKeyNT = NTOWFv2.
    let response_key = crypto::ntowfv2(&nt_hash, "User", "Domain");
    assert_eq!(
        response_key,
        a16("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f")
    );

    // The target info from the CHALLENGE (4.2.4: NbDomainName "Domain", NbComputerName "Server").
    let challenge = Challenge::decode(&Bytes::from(h(CHALLENGE))).expect("spec CHALLENGE decodes");
    let pairs = AvPairs::decode(&challenge.target_info).expect("spec target info decodes");
    assert_eq!(pairs.0.len(), 2);
    assert_eq!(pairs.0[0].id, AvId::NB_DOMAIN_NAME);
    assert_eq!(pairs.0[1].id, AvId::NB_COMPUTER_NAME);

    // 4.2.4.1.3: temp.
    let temp = crypto::client_blob(0, &CLIENT_CHALLENGE, &challenge.target_info);
    assert_eq!(
        temp,
        h("01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00
           aa aa aa aa aa aa aa aa 00 00 00 00 02 00 0c 00
           44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00
           53 00 65 00 72 00 76 00 65 00 72 00 00 00 00 00
           00 00 00 00")
    );

    // 4.2.4.2.2: NTProofStr.
    let proof = crypto::nt_proof_str(&response_key, &SERVER_CHALLENGE, &temp);
    assert_eq!(
        proof,
        a16("68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c")
    );

    // 4.2.4.1.2: SessionBaseKey; for NTLMv2 KeyExchangeKey is the same value (3.4.5.1).
    let session_base_key = crypto::session_base_key(&response_key, &proof);
    assert_eq!(
        session_base_key,
        a16("8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3")
    );
    let key_exchange_key = session_base_key;

    // 4.2.4.2.1: LMv2 response.
    let lm = crypto::lmv2_response(&response_key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE);
    assert_eq!(
        lm.to_vec(),
        h("86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa aa aa aa aa")
    );

    // 4.2.4.2.3: EncryptedRandomSessionKey = RC4K(KeyExchangeKey, RandomSessionKey).
    let enc = crypto::rc4(&key_exchange_key, &RANDOM_SESSION_KEY);
    assert_eq!(enc, a16("c5 da d2 54 4f c9 79 90 94 ce 1c e9 0b c9 d0 3e"));
    // And back: the server recovers the exported session key.
    assert_eq!(crypto::rc4(&key_exchange_key, &enc), RANDOM_SESSION_KEY);
}

#[test]
fn challenge_message_bytes() {
    let bytes = Bytes::from(h(CHALLENGE));
    let ch = Challenge::decode(&bytes).expect("spec CHALLENGE decodes");
    assert_eq!(ch.flags, 0xe28a8233);
    assert_eq!(ch.server_challenge, SERVER_CHALLENGE);
    assert_eq!(
        ch.target_name,
        encode_string("Server", true, "t").expect("utf16")
    );
    assert_eq!(
        ch.version,
        Some(Version {
            major: 6,
            minor: 0,
            build: 6000,
            revision: 15
        })
    );
    assert_eq!(ch.encode().expect("encodes"), bytes);
}

#[test]
fn authenticate_message_bytes() {
    let challenge = Challenge::decode(&Bytes::from(h(CHALLENGE))).expect("spec CHALLENGE decodes");
    let nt_hash = NtHash::from_password("Password");
    let response_key = crypto::ntowfv2(&nt_hash, "User", "Domain");
    let temp = crypto::client_blob(0, &CLIENT_CHALLENGE, &challenge.target_info);
    let proof = crypto::nt_proof_str(&response_key, &SERVER_CHALLENGE, &temp);
    let kxkey = crypto::session_base_key(&response_key, &proof);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&temp);
    let auth = Authenticate {
        lm_response: Bytes::copy_from_slice(&crypto::lmv2_response(
            &response_key,
            &SERVER_CHALLENGE,
            &CLIENT_CHALLENGE,
        )),
        nt_response: Bytes::from(nt_response),
        domain: encode_string("Domain", true, "d").expect("utf16"),
        user: encode_string("User", true, "u").expect("utf16"),
        workstation: encode_string("COMPUTER", true, "w").expect("utf16"),
        encrypted_session_key: Bytes::copy_from_slice(&crypto::rc4(&kxkey, &RANDOM_SESSION_KEY)),
        flags: 0xe2888235,
        version: Some(Version {
            major: 5,
            minor: 1,
            build: 2600,
            revision: 15,
        }),
        mic: None,
    };
    let expected = Bytes::from(h(AUTHENTICATE));
    assert_eq!(auth.encode().expect("encodes"), expected);
    assert_eq!(Authenticate::decode(&expected).expect("decodes"), auth);
    assert_ne!(auth.flags & flags::KEY_EXCH, 0);
}

#[test]
fn gss_wrap_ex_signature() {
    // 4.2.4.4: sealing then signing "Plaintext" (UTF-16LE), sequence number 0, with the keys
    // derived from the exported session key 0x55 x16 and KEY_EXCH negotiated.
    let keys = SessionKeys::derive(RANDOM_SESSION_KEY, 0xe2888235);
    let mut handle = keys.seal_handle(true);
    let plaintext = h("50 00 6c 00 61 00 69 00 6e 00 74 00 65 00 78 00 74 00");
    let mut sealed = plaintext.clone();
    handle.apply_keystream(&mut sealed);
    assert_eq!(
        sealed,
        h("54 e5 01 65 bf 19 36 dc 99 60 20 c1 81 1b 0f 06 fb 5f")
    );
    let sig = keys.mac(true, &mut handle, 0, &plaintext);
    assert_eq!(sig, a16("01 00 00 00 7f b3 8e c5 c5 5d 49 76 00 00 00 00"));
}
