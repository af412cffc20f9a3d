//! Property tests: seal/open and sign/verify round trips for every algorithm and backend, any
//! single flipped bit makes open or verify fail, garbage and truncated input returns errors
//! without panicking, and (with the `aws-lc` feature) both backends compute the same bytes.

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use smb_crypto::{
    Backend, Cipher, CipherId, CryptoError, NonceSequence, PreauthHash, Signer, SigningAlgorithm,
};

const CIPHERS: [CipherId; 4] = [
    CipherId::AES_128_CCM,
    CipherId::AES_128_GCM,
    CipherId::AES_256_CCM,
    CipherId::AES_256_GCM,
];
const SIGNERS: [SigningAlgorithm; 3] = [
    SigningAlgorithm::HMAC_SHA256,
    SigningAlgorithm::AES_CMAC,
    SigningAlgorithm::AES_GMAC,
];

fn key_for(id: CipherId, seed: u8) -> Vec<u8> {
    (0..id.key_len().unwrap())
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// A plausible SMB2 message: a 64-byte header with the right ProtocolId, random fields, then
/// `body`.
fn smb2_message(header_bytes: &[u8; 60], body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xFE, b'S', b'M', b'B'];
    m.extend_from_slice(header_bytes);
    m.extend_from_slice(body);
    m
}

fn arb_header() -> impl Strategy<Value = [u8; 60]> {
    proptest::collection::vec(any::<u8>(), 60).prop_map(|v| v.try_into().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn open_of_seal_is_identity(
        which in 0usize..4,
        key_seed in any::<u8>(),
        rng_seed in any::<u64>(),
        session_id in any::<u64>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let id = CIPHERS[which];
        for &backend in Backend::ALL {
            let cipher = Cipher::new(id, &key_for(id, key_seed), backend).unwrap();
            let mut nonces = NonceSequence::new(id, &mut ChaCha20Rng::seed_from_u64(rng_seed)).unwrap();
            let mut buf = vec![0u8; 52];
            buf.extend_from_slice(&plaintext);
            cipher.seal(&mut nonces, session_id, &mut buf).unwrap();
            prop_assert_eq!(&buf[0..4], &[0xFD, b'S', b'M', b'B']);
            prop_assert_eq!(&buf[44..52], &session_id.to_le_bytes());
            let unused = &buf[20 + cipher.nonce_len()..36];
            prop_assert!(unused.iter().all(|&b| b == 0));
            let opened = cipher.open(&mut buf).unwrap();
            prop_assert_eq!(&opened[..], &plaintext[..]);
        }
    }

    #[test]
    fn any_flipped_bit_makes_open_fail(
        which in 0usize..4,
        key_seed in any::<u8>(),
        rng_seed in any::<u64>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        bit in any::<proptest::sample::Index>(),
    ) {
        let id = CIPHERS[which];
        for &backend in Backend::ALL {
            let cipher = Cipher::new(id, &key_for(id, key_seed), backend).unwrap();
            let mut nonces = NonceSequence::new(id, &mut ChaCha20Rng::seed_from_u64(rng_seed)).unwrap();
            let mut buf = vec![0u8; 52];
            buf.extend_from_slice(&plaintext);
            cipher.seal(&mut nonces, 0x1122_3344_5566_7788, &mut buf).unwrap();
            // Any bit of the header (ProtocolId, tag, AAD) or the ciphertext.
            let i = bit.index(buf.len() * 8);
            buf[i / 8] ^= 1 << (i % 8);
            let err = cipher.open(&mut buf).unwrap_err();
            if (4..20).contains(&(i / 8)) || (20..36).contains(&(i / 8)) || (40..42).contains(&(i / 8))
                || (44..52).contains(&(i / 8)) || i / 8 >= 52
            {
                // Tag, nonce, Reserved, SessionId and ciphertext: only the AEAD can notice.
                prop_assert_eq!(err, CryptoError::BadTag);
            }
        }
    }

    #[test]
    fn verify_of_sign_holds_and_any_flipped_bit_fails(
        which in 0usize..3,
        key in proptest::collection::vec(any::<u8>(), 16),
        header in arb_header(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
        bit in any::<proptest::sample::Index>(),
    ) {
        let alg = SIGNERS[which];
        for &backend in Backend::ALL {
            let signer = Signer::new(alg, &key, backend).unwrap();
            let mut m = smb2_message(&header, &body);
            signer.sign(&mut m).unwrap();
            let signed = m.clone();
            prop_assert_eq!(signer.verify(&mut m), Ok(()));
            prop_assert_eq!(&m, &signed, "verify leaves the buffer unchanged");
            let i = bit.index(m.len() * 8);
            m[i / 8] ^= 1 << (i % 8);
            let err = signer.verify(&mut m).unwrap_err();
            if i / 8 >= 4 {
                prop_assert_eq!(err, CryptoError::BadSignature);
            }
            prop_assert_eq!(m[i / 8] ^ signed[i / 8], 1 << (i % 8), "verify restores the field");
        }
    }

    #[test]
    fn cmac_agrees_with_the_cmac_crate(
        key in proptest::collection::vec(any::<u8>(), 16),
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        use cmac::Mac;
        let ours = smb_crypto::cbcmac::AesCmac::new(&key).unwrap().mac(&data);
        let mut theirs = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(&key).unwrap();
        theirs.update(&data);
        prop_assert_eq!(&ours[..], &theirs.finalize().into_bytes()[..]);
    }

    #[test]
    fn ccm_agrees_with_the_ccm_crate(
        wide in any::<bool>(),
        key in proptest::collection::vec(any::<u8>(), 32),
        nonce in proptest::collection::vec(any::<u8>(), 11),
        aad in proptest::collection::vec(any::<u8>(), 0..80),
        data in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        use aes_gcm::aead::consts::{U11, U16};
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        let (id, key) = if wide { (CipherId::AES_256_CCM, &key[..]) } else { (CipherId::AES_128_CCM, &key[..16]) };
        let ours = Cipher::new(id, key, Backend::RustCrypto).unwrap();
        let mut a = data.clone();
        let ta = ours.seal_detached(&nonce, &aad, &mut a).unwrap();
        let mut b = data.clone();
        let n = ccm::Nonce::<U11>::from_slice(&nonce);
        let tb = if wide {
            ccm::Ccm::<aes::Aes256, U16, U11>::new_from_slice(key).unwrap().encrypt_in_place_detached(n, &aad, &mut b)
        } else {
            ccm::Ccm::<aes::Aes128, U16, U11>::new_from_slice(key).unwrap().encrypt_in_place_detached(n, &aad, &mut b)
        }.unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&ta[..], &tb[..]);
        ours.open_detached(&nonce, &aad, &mut a, &ta).unwrap();
        prop_assert_eq!(&a, &data);
        let mut bad = ta;
        bad[0] ^= 1;
        prop_assert_eq!(ours.open_detached(&nonce, &aad, &mut b, &bad), Err(CryptoError::BadTag));
        prop_assert!(b.iter().all(|&x| x == 0), "a rejected message is zeroed");
    }

    #[test]
    fn batched_cmac_equals_one_by_one(
        which in 0usize..3,
        key in proptest::collection::vec(any::<u8>(), 16),
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
    ) {
        let signer = Signer::new(SIGNERS[which], &key, Backend::RustCrypto).unwrap();
        let mut one: Vec<Vec<u8>> = bodies.iter().map(|b| smb2_message(&[7; 60], b)).collect();
        let mut many = one.clone();
        for m in one.iter_mut() {
            signer.sign(m).unwrap();
        }
        let mut views: Vec<&mut [u8]> = many.iter_mut().map(|m| &mut m[..]).collect();
        signer.sign_many(&mut views).unwrap();
        prop_assert_eq!(&one, &many);
        // The raw batch API on unframed data, lengths 0..200 (complete and partial blocks).
        let cmac = smb_crypto::cbcmac::AesCmac::new(&key).unwrap();
        let refs: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        let mut tags = vec![[0u8; 16]; refs.len()];
        cmac.mac_many(&refs, &mut tags).unwrap();
        for (b, t) in bodies.iter().zip(&tags) {
            prop_assert_eq!(&cmac.mac(b), t);
        }
    }

    #[test]
    fn garbage_never_panics(
        which in 0usize..4,
        data in proptest::collection::vec(any::<u8>(), 0..200),
        fd_prefix in any::<bool>(),
    ) {
        let id = CIPHERS[which];
        let mut data = data;
        if fd_prefix && data.len() >= 4 {
            data[..4].copy_from_slice(&[0xFD, b'S', b'M', b'B']);
        }
        for &backend in Backend::ALL {
            let cipher = Cipher::new(id, &key_for(id, 1), backend).unwrap();
            prop_assert!(cipher.open(&mut data.clone()).is_err());
            let signer = Signer::new(SIGNERS[which % 3], &[3; 16], backend).unwrap();
            let mut m = data.clone();
            if m.len() >= 4 {
                m[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
            }
            prop_assert!(signer.verify(&mut m).is_err());
        }
    }
}

#[test]
fn short_buffers_are_typed_errors() {
    for &backend in Backend::ALL {
        let c = Cipher::new(CipherId::AES_128_GCM, &[0; 16], backend).unwrap();
        let mut n =
            NonceSequence::new(CipherId::AES_128_GCM, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        assert_eq!(
            c.seal(&mut n, 1, &mut [0; 51]),
            Err(CryptoError::BufferTooShort { need: 52, got: 51 })
        );
        assert_eq!(
            c.open(&mut [0; 10]).unwrap_err(),
            CryptoError::BufferTooShort { need: 52, got: 10 }
        );
        let s = Signer::new(SigningAlgorithm::AES_CMAC, &[0; 16], backend).unwrap();
        assert_eq!(
            s.sign(&mut [0xFE; 63]),
            Err(CryptoError::BufferTooShort { need: 64, got: 63 })
        );
        let mut not_smb = [0u8; 64];
        assert_eq!(
            s.sign(&mut not_smb),
            Err(CryptoError::BadProtocolId([0, 0, 0, 0]))
        );
    }
}

#[test]
fn header_checks_on_open() {
    let c = Cipher::new(CipherId::AES_128_CCM, &[7; 16], Backend::RustCrypto).unwrap();
    let mut n =
        NonceSequence::new(CipherId::AES_128_CCM, &mut ChaCha20Rng::seed_from_u64(2)).unwrap();
    let mut buf = vec![0u8; 52 + 80];
    c.seal(&mut n, 5, &mut buf).unwrap();
    let mut wrong_flags = buf.clone();
    wrong_flags[42] = 2;
    assert_eq!(
        c.open(&mut wrong_flags).unwrap_err(),
        CryptoError::BadTransformFlags(2)
    );
    let mut wrong_size = buf.clone();
    wrong_size[36] = 81;
    assert_eq!(
        c.open(&mut wrong_size).unwrap_err(),
        CryptoError::LengthMismatch {
            declared: 81,
            actual: 80
        }
    );
    let mut truncated = buf.clone();
    truncated.pop();
    assert!(matches!(
        c.open(&mut truncated),
        Err(CryptoError::LengthMismatch { .. })
    ));
    // A GCM sequence cannot feed a CCM key.
    let mut gcm_nonces =
        NonceSequence::new(CipherId::AES_128_GCM, &mut ChaCha20Rng::seed_from_u64(3)).unwrap();
    assert!(matches!(
        c.seal(&mut gcm_nonces, 5, &mut buf),
        Err(CryptoError::NonceLengthMismatch { .. })
    ));
    assert!(
        c.open(&mut buf).is_ok(),
        "a refused seal leaves the buffer as it was"
    );
}

#[test]
fn bad_keys_and_unknown_algorithms() {
    for &backend in Backend::ALL {
        assert_eq!(
            Cipher::new(CipherId(9), &[0; 16], backend).unwrap_err(),
            CryptoError::UnknownCipher(CipherId(9))
        );
        assert!(matches!(
            Cipher::new(CipherId::AES_128_GCM, &[0; 32], backend),
            Err(CryptoError::BadKeyLength { got: 32, .. })
        ));
        assert!(matches!(
            Signer::new(SigningAlgorithm::AES_GMAC, &[0; 15], backend),
            Err(CryptoError::BadKeyLength { got: 15, .. })
        ));
        assert_eq!(
            Signer::new(SigningAlgorithm(7), &[0; 16], backend).unwrap_err(),
            CryptoError::UnknownSigningAlgorithm(SigningAlgorithm(7))
        );
    }
}

#[test]
fn gmac_nonce_carries_role_and_cancel_bits() {
    // MS-SMB2 3.1.4.1: MessageId, then bit 0 = sender is the server, bit 1 = CANCEL request.
    let mut m = smb2_message(&[0; 60], &[]);
    m[24..32].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    let n = smb_crypto::signing::gmac_nonce(&m).unwrap();
    assert_eq!(n, [8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]);
    m[16] |= 0x01; // SMB2_FLAGS_SERVER_TO_REDIR
    assert_eq!(smb_crypto::signing::gmac_nonce(&m).unwrap()[8], 1);
    m[16] &= !0x01;
    m[12] = 0x0C; // CANCEL
    assert_eq!(smb_crypto::signing::gmac_nonce(&m).unwrap()[8], 2);
    // The same bytes signed as a request and as a CANCEL give different signatures.
    let s = Signer::new(SigningAlgorithm::AES_GMAC, &[1; 16], Backend::RustCrypto).unwrap();
    let mut cancel = m.clone();
    s.sign(&mut cancel).unwrap();
    let mut cancel_bit_only = m.clone();
    cancel_bit_only[12] = 0x0D;
    s.sign(&mut cancel_bit_only).unwrap();
    assert_ne!(cancel[48..64], cancel_bit_only[48..64]);
}

#[test]
fn preauth_hash_starts_at_zero_and_chains() {
    for &backend in Backend::ALL {
        let mut h = PreauthHash::with_backend(backend);
        assert_eq!(h.value(), &[0u8; 64]);
        h.update(b"negotiate request");
        let one = *h.value();
        h.update(b"negotiate response");
        assert_ne!(h.value(), &one);
        let mut again = PreauthHash::from_value(one, backend);
        again.update(b"negotiate response");
        assert_eq!(again.value(), h.value());
    }
}

#[cfg(feature = "aws-lc")]
mod backends_agree {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn gcm(
            wide in any::<bool>(),
            key in proptest::collection::vec(any::<u8>(), 32),
            nonce in proptest::collection::vec(any::<u8>(), 12),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            data in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let (id, key) = if wide { (CipherId::AES_256_GCM, &key[..]) } else { (CipherId::AES_128_GCM, &key[..16]) };
            let rc = Cipher::new(id, key, Backend::RustCrypto).unwrap();
            let aws = Cipher::new(id, key, Backend::AwsLc).unwrap();
            let (mut a, mut b) = (data.clone(), data.clone());
            let ta = rc.seal_detached(&nonce, &aad, &mut a).unwrap();
            let tb = aws.seal_detached(&nonce, &aad, &mut b).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(ta, tb);
            // Each opens the other's output.
            rc.open_detached(&nonce, &aad, &mut b, &ta).unwrap();
            aws.open_detached(&nonce, &aad, &mut a, &tb).unwrap();
            prop_assert_eq!(&a, &data);
            prop_assert_eq!(&b, &data);
        }

        #[test]
        fn signing(
            which in 0usize..3,
            key in proptest::collection::vec(any::<u8>(), 16),
            header in arb_header(),
            body in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let alg = SIGNERS[which];
            let rc = Signer::new(alg, &key, Backend::RustCrypto).unwrap();
            let aws = Signer::new(alg, &key, Backend::AwsLc).unwrap();
            let mut a = smb2_message(&header, &body);
            let mut b = a.clone();
            rc.sign(&mut a).unwrap();
            aws.sign(&mut b).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(aws.verify(&mut a), Ok(()));
        }

        #[test]
        fn sha512_chain(messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..500), 0..5)) {
            let mut rc = PreauthHash::with_backend(Backend::RustCrypto);
            let mut aws = PreauthHash::with_backend(Backend::AwsLc);
            for m in &messages {
                rc.update(m);
                aws.update(m);
            }
            prop_assert_eq!(rc.value(), aws.value());
        }
    }
}

#[test]
fn ccm_long_aad_uses_the_six_byte_length_encoding() {
    use aes_gcm::aead::consts::{U11, U16};
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let aad: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    let ours = Cipher::new(CipherId::AES_128_CCM, &[9; 16], Backend::RustCrypto).unwrap();
    let mut a = vec![3u8; 100];
    let ta = ours.seal_detached(&[1; 11], &aad, &mut a).unwrap();
    let mut b = vec![3u8; 100];
    let tb = ccm::Ccm::<aes::Aes128, U16, U11>::new_from_slice(&[9; 16])
        .unwrap()
        .encrypt_in_place_detached(ccm::Nonce::<U11>::from_slice(&[1; 11]), &aad, &mut b)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(&ta[..], &tb[..]);
}
