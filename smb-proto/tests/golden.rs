//! Golden vectors: every real message in `tests/fixtures/golden/` (captured from smbclient,
//! smbtorture and impacket talking to Samba smbd; see that directory's README.md) must decode
//! with the public codec API and re-encode byte-exact.
//!
//! - Plain SMB2 messages: split with `wire::compound`, each message decoded with
//!   `message::decode_request` / `decode_response` (direction from the fixture's comments) and
//!   re-encoded; a message inside a chain is compared with its 8-byte padding.
//! - TRANSFORM frames: the header through `wire::transform`; where the fixture carries the
//!   session's keys, the frame is opened with `smb_crypto::Cipher` (which proves our AEAD on
//!   real traffic) and the SMB2 messages inside are decoded and re-encoded too.
//! - Signed messages with keys: the signature is verified with `smb_crypto::Signer`, and the
//!   recorded keys are checked against `SessionKeys::derive` from the recorded session key
//!   (3.1.1: with the preauth hash computed over the captured NEGOTIATE and SESSION_SETUP).
//! - Buffers: information classes (QUERY_INFO, QUERY_DIRECTORY, SET_INFO) and FSCTL payloads
//!   are decoded with `wire::fscc` / `wire::fsctl` where the class is known and re-encoded.

mod common;

use std::collections::BTreeMap;

use common::{Fixture, fixtures, golden_dir, hex_files, smb1_fixtures};

use bytes::{Bytes, BytesMut};
use smb_crypto::{Backend, Cipher, CipherId, PreauthHash, SessionKeys, Signer, SigningAlgorithm};
use smb_proto::wire::Dialect;
use smb_proto::wire::compound::{build_compound, split_compound};
use smb_proto::wire::fscc::InfoCodec;
use smb_proto::wire::fscc::directory::DirectoryListing;
use smb_proto::wire::fscc::file::FileInfo;
use smb_proto::wire::fscc::filesystem::FsInfo;
use smb_proto::wire::fscc::notify::FileNotifyInformation;
use smb_proto::wire::fsctl::{
    CopyChunkRequest, CopyChunkResponse, DfsReferralRequest, DfsReferralResponse,
    NetworkInterfaceInfoList, PipeWaitRequest, ResumeKeyResponse, ValidateNegotiateInfoRequest,
    ValidateNegotiateInfoResponse,
};
use smb_proto::wire::header::{Header, HeaderFlags};
use smb_proto::wire::ioctl::CtlCode;
use smb_proto::wire::message::{
    Request, RequestBody, Response, ResponseBody, ResponsePayload, decode_request, decode_response,
};
use smb_proto::wire::negotiate::Smb1NegotiateRequest;
use smb_proto::wire::negotiate_context::NegotiateContext;
use smb_proto::wire::query_info::InfoType;
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::transform::{TransformHeader, split};

/// A decoded SMB2 message of either direction.
#[derive(Debug)]
enum Decoded {
    Request(Request),
    Response(Response),
}

impl Decoded {
    fn header(&self) -> &Header {
        match self {
            Decoded::Request(r) => &r.header,
            Decoded::Response(r) => &r.header,
        }
    }
}

/// Decodes one message and re-encodes it (without compound padding).
fn decode_reencode(msg: &Bytes, request: bool) -> Result<(Decoded, BytesMut), String> {
    let mut out = BytesMut::new();
    let decoded = if request {
        let m = decode_request(msg).map_err(|e| format!("decode_request: {e}"))?;
        m.encode(&mut out).map_err(|e| format!("encode: {e}"))?;
        Decoded::Request(m)
    } else {
        let m = decode_response(msg).map_err(|e| format!("decode_response: {e}"))?;
        m.encode(&mut out).map_err(|e| format!("encode: {e}"))?;
        Decoded::Response(m)
    };
    Ok((decoded, out))
}

fn first_difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    format!(
        "differs at byte {at} (re-encoded {} bytes, captured {}):\n  got  {}\n  want {}",
        got.len(),
        want.len(),
        hex::encode(&got[at.saturating_sub(8)..(at + 24).min(got.len())]),
        hex::encode(&want[at.saturating_sub(8)..(at + 24).min(want.len())]),
    )
}

/// A decoded SMB2 frame: each message (its captured bytes, padding included) decoded.
struct Chain {
    parts: Vec<(Bytes, Decoded)>,
    /// Whether the sender also padded the last message of a compound to 8 bytes (Samba's
    /// server does; `build_compound` does not, MS-SMB2 3.3.4.1.3 only asks it between
    /// messages).
    last_padded: bool,
}

/// Splits an SMB2 frame into its chain, decodes every message, re-encodes each one and
/// rebuilds the chain with `build_compound`; the result must be the captured frame.
fn decode_chain(frame: &Bytes, request: bool) -> Result<Chain, String> {
    let parts = split_compound(frame, 64).map_err(|e| format!("split_compound: {e}"))?;
    let mut decoded = Vec::new();
    let mut encoded = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let (d, enc) = decode_reencode(part, request).map_err(|e| format!("message {i}: {e}"))?;
        if part.get(..enc.len()) != Some(&enc[..]) {
            return Err(format!(
                "message {i}: re-encoding {}",
                first_difference(&enc, part)
            ));
        }
        decoded.push((part.clone(), d));
        encoded.push(enc);
    }
    let refs: Vec<&[u8]> = encoded.iter().map(|m| &m[..]).collect();
    let mut rebuilt = BytesMut::new();
    build_compound(&mut rebuilt, &refs).map_err(|e| format!("build_compound: {e}"))?;
    if rebuilt[..] == frame[..] {
        return Ok(Chain {
            parts: decoded,
            last_padded: false,
        });
    }
    let padded_len = rebuilt.len().next_multiple_of(8);
    let tail = frame.get(rebuilt.len()..).unwrap_or_default();
    if parts.len() > 1
        && frame.len() == padded_len
        && frame.starts_with(&rebuilt)
        && tail.iter().all(|&b| b == 0)
    {
        return Ok(Chain {
            parts: decoded,
            last_padded: true,
        });
    }
    Err(format!(
        "chain re-encoding {}",
        first_difference(&rebuilt, frame)
    ))
}

/// What the fixtures of one capture tell about its crypto: the NEGOTIATE response's choices
/// and the preauth integrity hashes (MS-SMB2 3.2.5.2, 3.3.5.4) computed over the captured
/// NEGOTIATE and SESSION_SETUP messages.
#[derive(Debug, Default)]
struct CaptureState {
    dialect: Option<Dialect>,
    cipher: Option<CipherId>,
    signing: Option<SigningAlgorithm>,
    /// The connection's hash after the NEGOTIATE request (and response).
    connection: Option<PreauthHash>,
    /// Per SessionId (0 before the server assigned one): the session's hash and whether the
    /// final SESSION_SETUP response has been seen (it is not hashed).
    sessions: BTreeMap<u64, (PreauthHash, bool)>,
}

impl CaptureState {
    fn note(&mut self, bytes: &Bytes, d: &Decoded) {
        let h = d.header();
        match d {
            Decoded::Request(Request {
                body: RequestBody::Negotiate(_),
                ..
            }) => {
                let mut p = PreauthHash::new();
                p.update(bytes);
                self.connection = Some(p);
                self.dialect = None;
                self.cipher = None;
                self.signing = None;
            }
            Decoded::Response(Response {
                payload: ResponsePayload::Body(ResponseBody::Negotiate(n)),
                ..
            }) => {
                self.dialect = Some(n.dialect);
                for ctx in &n.contexts {
                    match ctx {
                        NegotiateContext::Encryption(e) => self.cipher = e.ciphers.first().copied(),
                        NegotiateContext::Signing(s) => {
                            self.signing = s.algorithms.first().copied()
                        }
                        _ => {}
                    }
                }
                if let Some(p) = self.connection.as_mut() {
                    p.update(bytes);
                }
            }
            Decoded::Request(Request {
                body: RequestBody::SessionSetup(_),
                ..
            }) => {
                let sid = h.session_id.0;
                let mut p = match self.sessions.remove(&sid) {
                    Some((p, false)) => p,
                    _ => match &self.connection {
                        Some(c) => c.clone(),
                        None => return,
                    },
                };
                p.update(bytes);
                self.sessions.insert(sid, (p, false));
            }
            Decoded::Response(Response {
                payload: ResponsePayload::Body(ResponseBody::SessionSetup(_)),
                ..
            }) => {
                let sid = h.session_id.0;
                let Some((mut p, _)) = self
                    .sessions
                    .remove(&sid)
                    .or_else(|| self.sessions.remove(&0))
                else {
                    return;
                };
                let done = h.status == NtStatus::SUCCESS;
                if !done {
                    p.update(bytes);
                }
                self.sessions.insert(sid, (p, done));
            }
            _ => {}
        }
    }

    fn signing_algorithm(&self) -> Option<SigningAlgorithm> {
        smb_crypto::keys::signing_algorithm_for(self.dialect?.0, self.signing).ok()
    }
}

/// Counts of what the crypto checks proved.
#[derive(Debug, Default)]
struct Proved {
    signatures: BTreeMap<String, usize>,
    decrypted: BTreeMap<String, usize>,
    decrypted_messages: usize,
    frames_opened: usize,
    key_schedules: BTreeMap<String, usize>,
}

fn verify_signatures(
    f: &Fixture,
    chain: &Chain,
    state: &CaptureState,
    proved: &mut Proved,
) -> Result<(), String> {
    let Some(key) = f.key("signing_key") else {
        return Ok(());
    };
    for (i, (bytes, d)) in chain.parts.iter().enumerate() {
        if !d.header().flags.contains(HeaderFlags::SIGNED) {
            continue;
        }
        let alg = state
            .signing_algorithm()
            .ok_or("signed message but no NEGOTIATE response seen")?;
        let signer = Signer::new(alg, &key, Backend::RustCrypto).map_err(|e| e.to_string())?;
        // A message inside a chain is signed with its padding, the last one without
        // (MS-SMB2 3.2.4.1.4): exactly the bytes split_compound returned. A padded last
        // message is signed without the padding.
        let mut buf = bytes.to_vec();
        if i + 1 == chain.parts.len() && chain.last_padded {
            let mut enc = BytesMut::new();
            match d {
                Decoded::Request(r) => r.encode(&mut enc),
                Decoded::Response(r) => r.encode(&mut enc),
            }
            .map_err(|e| e.to_string())?;
            buf.truncate(enc.len());
        }
        signer
            .verify(&mut buf)
            .map_err(|e| format!("message {i}: signature ({alg:?}): {e}"))?;
        *proved.signatures.entry(format!("{alg:?}")).or_default() += 1;
    }
    Ok(())
}

/// Derives the session's keys from the recorded session key (and for 3.1.1 the preauth hash
/// computed from the captured messages) and compares them with the keys smbclient recorded.
fn check_key_schedule(
    f: &Fixture,
    state: &CaptureState,
    proved: &mut Proved,
) -> Result<(), String> {
    let (Some(session_key), Some(sid)) = (f.key("session_key"), f.comment("session_id")) else {
        return Ok(());
    };
    let sid = u64::from_str_radix(sid.trim_start_matches("0x"), 16).map_err(|e| e.to_string())?;
    let dialect = state.dialect.ok_or("keys but no NEGOTIATE response seen")?;
    let preauth = match state.sessions.get(&sid) {
        Some((p, true)) => Some(*p.value()),
        _ if dialect == Dialect::SMB3_1_1 => {
            return Err("3.1.1 keys but the session's SESSION_SETUP exchange was not seen".into());
        }
        _ => None,
    };
    let keys = SessionKeys::derive(dialect.0, state.cipher, &session_key, preauth.as_ref())
        .map_err(|e| e.to_string())?;
    let want = |k: &str| f.key(k);
    let got = [
        ("signing_key", Some(keys.signing.as_bytes().to_vec())),
        (
            "application_key",
            Some(keys.application.as_bytes().to_vec()),
        ),
        (
            "encryption_key_c2s",
            keys.encryption.as_ref().map(|k| k.as_bytes().to_vec()),
        ),
        (
            "encryption_key_s2c",
            keys.decryption.as_ref().map(|k| k.as_bytes().to_vec()),
        ),
    ];
    for (name, derived) in got {
        if let Some(w) = want(name) {
            if derived.as_deref() != Some(&w[..]) {
                return Err(format!("derived {name} differs from the recorded one"));
            }
        }
    }
    *proved
        .key_schedules
        .entry(format!("{dialect}"))
        .or_default() += 1;
    Ok(())
}

fn check_transform(f: &Fixture, state: &CaptureState, proved: &mut Proved) -> Result<(), String> {
    let (h, payload) = split(&f.bytes).map_err(|e| format!("transform split: {e}"))?;
    if h != TransformHeader::decode(&f.bytes).map_err(|e| e.to_string())? {
        return Err("split and decode disagree".into());
    }
    let mut out = BytesMut::new();
    h.encode(&mut out);
    out.extend_from_slice(&payload);
    if out[..] != f.bytes[..] {
        return Err(format!(
            "TRANSFORM re-encoding {}",
            first_difference(&out, &f.bytes)
        ));
    }
    let key_name = if f.is_request() {
        "encryption_key_c2s"
    } else {
        "encryption_key_s2c"
    };
    let Some(key) = f.key(key_name) else {
        return Ok(());
    };
    let id = state
        .cipher
        .or_else(|| {
            // 3.0 and 3.0.2 have no encryption context: AES-128-CCM (MS-SMB2 3.1.4.3).
            state
                .dialect
                .filter(|d| *d == Dialect::SMB3_0 || *d == Dialect::SMB3_0_2)
                .map(|_| CipherId::AES_128_CCM)
        })
        .ok_or("encryption key but no cipher known for the capture")?;
    let cipher = Cipher::new(id, &key, Backend::RustCrypto).map_err(|e| e.to_string())?;
    let mut buf = f.bytes.to_vec();
    let plain = Bytes::copy_from_slice(
        cipher
            .open(&mut buf)
            .map_err(|e| format!("open ({id:?}): {e}"))?,
    );
    *proved.decrypted.entry(format!("{id:?}")).or_default() += 1;
    proved.frames_opened += 1;
    let chain = decode_chain(&plain, f.is_request()).map_err(|e| format!("decrypted: {e}"))?;
    for (_, d) in &chain.parts {
        if d.header().session_id != h.session_id {
            return Err("SessionId inside differs from the TRANSFORM header's".into());
        }
        // Request payloads (VALIDATE_NEGOTIATE_INFO travels encrypted here) are checked too.
        if let Some(label) = check_payload(d, None)? {
            *proved
                .decrypted
                .entry(format!("payload {label}"))
                .or_default() += 1;
        }
    }
    proved.decrypted_messages += chain.parts.len();
    Ok(())
}

/// Decodes a structured buffer with `decode`, re-encodes it with `encode` and requires the
/// same bytes. Returns a label for the statistics.
fn buffer_round_trip<T>(
    label: String,
    buf: &Bytes,
    decode: impl FnOnce(&Bytes) -> Result<T, smb_proto::wire::DecodeError>,
    encode: impl FnOnce(&T, &mut BytesMut) -> Result<(), smb_proto::wire::EncodeError>,
) -> Result<Option<String>, String> {
    let v = decode(buf).map_err(|e| format!("{label}: {e}"))?;
    let mut out = BytesMut::new();
    encode(&v, &mut out).map_err(|e| format!("{label}: encode: {e}"))?;
    if out[..] != buf[..] {
        return Err(format!(
            "{label}: re-encoding {}",
            first_difference(&out, buf)
        ));
    }
    Ok(Some(label))
}

fn fsctl<T: InfoCodec>(label: &str, buf: &Bytes) -> Result<Option<String>, String> {
    buffer_round_trip(label.to_owned(), buf, T::decode, |v, out| v.encode(out))
}

/// The structured payload of a message (information classes, FSCTL buffers, change
/// notifications), decoded with `wire::fscc` / `wire::fsctl` and re-encoded byte-exact. A
/// response's class comes from its request (same capture and MessageId). Returns what was
/// checked, or `None` when the payload is opaque (security descriptors, pipes, errors).
fn check_payload(d: &Decoded, request: Option<&RequestBody>) -> Result<Option<String>, String> {
    match d {
        Decoded::Request(Request { body, .. }) => match body {
            RequestBody::SetInfo(s) if s.info_type == InfoType::FILE => buffer_round_trip(
                format!("SET_INFO file class {}", s.info_class),
                &s.buffer,
                |_| s.file_info(),
                FileInfo::encode,
            ),
            RequestBody::SetInfo(s) if s.info_type == InfoType::FILESYSTEM => buffer_round_trip(
                format!("SET_INFO fs class {}", s.info_class),
                &s.buffer,
                |_| s.fs_info(),
                FsInfo::encode,
            ),
            RequestBody::Ioctl(i) => match i.ctl_code {
                CtlCode::FSCTL_VALIDATE_NEGOTIATE_INFO => fsctl::<ValidateNegotiateInfoRequest>(
                    "VALIDATE_NEGOTIATE_INFO request",
                    &i.input,
                ),
                CtlCode::FSCTL_DFS_GET_REFERRALS => {
                    fsctl::<DfsReferralRequest>("DFS_GET_REFERRALS request", &i.input)
                }
                CtlCode::FSCTL_SRV_COPYCHUNK | CtlCode::FSCTL_SRV_COPYCHUNK_WRITE => {
                    fsctl::<CopyChunkRequest>("SRV_COPYCHUNK request", &i.input)
                }
                CtlCode::FSCTL_PIPE_WAIT => fsctl::<PipeWaitRequest>("PIPE_WAIT request", &i.input),
                _ => Ok(None),
            },
            _ => Ok(None),
        },
        Decoded::Response(Response {
            payload: ResponsePayload::Body(body),
            ..
        }) => match (body, request) {
            (ResponseBody::QueryInfo(q), Some(RequestBody::QueryInfo(r))) => {
                if let Some(class) = r.file_class() {
                    buffer_round_trip(
                        format!("QUERY_INFO file class {}", class.0),
                        &q.buffer,
                        |b| FileInfo::decode(class, b),
                        FileInfo::encode,
                    )
                } else if let Some(class) = r.fs_class() {
                    buffer_round_trip(
                        format!("QUERY_INFO fs class {}", class.0),
                        &q.buffer,
                        |b| FsInfo::decode(class, b),
                        FsInfo::encode,
                    )
                } else {
                    Ok(None)
                }
            }
            (ResponseBody::QueryDirectory(q), Some(RequestBody::QueryDirectory(r))) => {
                let class = r.file_information_class;
                buffer_round_trip(
                    format!("QUERY_DIRECTORY class {}", class.0),
                    &q.buffer,
                    |b| DirectoryListing::decode(class, b),
                    |v, out| v.encode_limited(out, usize::MAX).map(|_| ()),
                )
            }
            (ResponseBody::ChangeNotify(c), _) if !c.buffer.is_empty() => buffer_round_trip(
                "CHANGE_NOTIFY FILE_NOTIFY_INFORMATION".to_owned(),
                &c.buffer,
                FileNotifyInformation::decode_list,
                |v, out| FileNotifyInformation::encode_list(v, out, usize::MAX).map(|_| ()),
            ),
            (ResponseBody::Ioctl(o), _) => match o.ctl_code {
                CtlCode::FSCTL_VALIDATE_NEGOTIATE_INFO => fsctl::<ValidateNegotiateInfoResponse>(
                    "VALIDATE_NEGOTIATE_INFO response",
                    &o.output,
                ),
                CtlCode::FSCTL_QUERY_NETWORK_INTERFACE_INFO => fsctl::<NetworkInterfaceInfoList>(
                    "QUERY_NETWORK_INTERFACE_INFO response",
                    &o.output,
                ),
                CtlCode::FSCTL_SRV_REQUEST_RESUME_KEY => {
                    fsctl::<ResumeKeyResponse>("SRV_REQUEST_RESUME_KEY response", &o.output)
                }
                CtlCode::FSCTL_SRV_COPYCHUNK | CtlCode::FSCTL_SRV_COPYCHUNK_WRITE => {
                    fsctl::<CopyChunkResponse>("SRV_COPYCHUNK response", &o.output)
                }
                CtlCode::FSCTL_DFS_GET_REFERRALS | CtlCode::FSCTL_DFS_GET_REFERRALS_EX => {
                    fsctl::<DfsReferralResponse>("DFS_GET_REFERRALS response", &o.output)
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        },
        Decoded::Response(_) => Ok(None),
    }
}

#[test]
fn every_golden_message_decodes_and_reencodes_byte_exact() {
    let all = fixtures();
    let files = hex_files(&golden_dir()).len();
    assert_eq!(all.len(), files);
    assert!(all.len() >= 30, "only {} golden fixtures", all.len());

    let mut states: BTreeMap<String, CaptureState> = BTreeMap::new();
    let mut keys_checked = std::collections::BTreeSet::new();
    let mut proved = Proved::default();
    let mut failures = Vec::new();
    let (mut messages, mut compounds, mut last_padded, mut transforms) = (0, 0, 0, 0);
    let mut checked = 0usize;
    let mut requests: BTreeMap<(String, u64), RequestBody> = BTreeMap::new();
    let mut payloads: BTreeMap<String, usize> = BTreeMap::new();
    let mut dialects = std::collections::BTreeSet::new();
    for f in &all {
        let capture = f.comment("capture").unwrap_or_default().to_owned();
        let state = states.entry(capture.clone()).or_default();
        let result = match f.bytes.first() {
            Some(0xFD) => {
                transforms += 1;
                check_transform(f, state, &mut proved)
            }
            _ => decode_chain(&f.bytes, f.is_request()).and_then(|chain| {
                messages += chain.parts.len();
                compounds += usize::from(chain.parts.len() > 1);
                last_padded += usize::from(chain.last_padded);
                for (bytes, d) in &chain.parts {
                    state.note(bytes, d);
                    let key = (capture.clone(), d.header().message_id.0);
                    let checked = match d {
                        Decoded::Request(r) => {
                            requests.insert(key, r.body.clone());
                            check_payload(d, None)
                        }
                        Decoded::Response(_) => check_payload(d, requests.get(&key)),
                    }?;
                    if let Some(label) = checked {
                        *payloads.entry(label).or_default() += 1;
                    }
                    if let Decoded::Response(Response {
                        payload: ResponsePayload::Body(ResponseBody::Negotiate(n)),
                        ..
                    }) = d
                    {
                        dialects.insert(n.dialect);
                    }
                }
                verify_signatures(f, &chain, state, &mut proved)
            }),
        };
        let result = result.and_then(|()| {
            // Once per capture, after its SESSION_SETUP exchange has completed.
            let ready = f.comment("session_id").and_then(|sid| {
                let sid = u64::from_str_radix(sid.trim_start_matches("0x"), 16).ok()?;
                matches!(state.sessions.get(&sid), Some((_, true))).then_some(())
            });
            if ready.is_some() && keys_checked.insert(capture) {
                check_key_schedule(f, state, &mut proved)
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => checked += 1,
            Err(e) => failures.push(format!("{}: {e}", f.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} fixtures: {messages} SMB2 messages in clear ({compounds} compounds, {last_padded} \
         with the last message padded), {transforms} TRANSFORM frames ({} messages inside); \
         signatures verified {:?}; decrypted {:?}; key schedules derived {:?}",
        all.len(),
        proved.decrypted_messages,
        proved.signatures,
        proved.decrypted,
        proved.key_schedules,
    );
    assert_eq!(checked, files, "every fixture file decoded and re-encoded");
    eprintln!("payloads decoded and re-encoded byte-exact: {payloads:#?}");
    // All five dialects and the 0x02FF answer to an SMB1 NEGOTIATE.
    for d in Dialect::ALL.iter().chain([Dialect::SMB2_WILDCARD].iter()) {
        assert!(dialects.contains(d), "no NEGOTIATE response for {d}");
    }
    for kind in [
        "QUERY_DIRECTORY",
        "QUERY_INFO file",
        "QUERY_INFO fs",
        "SET_INFO file",
        "VALIDATE_NEGOTIATE_INFO",
        "QUERY_NETWORK_INTERFACE_INFO",
        "SRV_COPYCHUNK",
        "CHANGE_NOTIFY",
    ] {
        assert!(
            payloads.keys().any(|k| k.starts_with(kind)),
            "no {kind} payload checked"
        );
    }
    // What the README promises: every TRANSFORM frame with keys opens, and the signatures
    // verify_golden_keys.py checked (69 CMAC + 35 GMAC) verify here too.
    assert_eq!(proved.frames_opened, transforms);
    assert!(proved.decrypted_messages >= transforms);
    assert_eq!(proved.signatures.get("AES_CMAC"), Some(&69));
    assert_eq!(proved.signatures.get("AES_GMAC"), Some(&35));
    assert_eq!(keys_checked.len(), 8, "smbclient SMB3 sessions with keys");
}

/// The SMB1 multi-protocol NEGOTIATE (MS-SMB2 3.3.5.3) decodes, offers SMB2, and re-encodes
/// byte-exact.
#[test]
fn smb1_negotiate_decodes_and_reencodes_byte_exact() {
    let all = smb1_fixtures();
    assert!(!all.is_empty());
    for f in &all {
        let n =
            Smb1NegotiateRequest::decode(&f.bytes).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert!(
            n.offers_smb2_wildcard() && n.offers_smb2_002(),
            "{}",
            f.name
        );
        let mut out = BytesMut::new();
        n.encode(&mut out).expect("encodes");
        assert_eq!(out[..], f.bytes[..], "{}", f.name);
    }
}
