//! Token-level interop: Samba's own NTLMSSP and SPNEGO client (`ntlm_auth`, the helper that
//! ships with Samba) against our acceptor. This is not the SMB SESSION_SETUP interop test
//! (that is `client_vs_samba.rs`), but it checks our CHALLENGE, MIC,
//! key exchange and mechListMIC handling against an independent implementation.
//! Skipped with a note when `ntlm_auth` (Debian package `winbind`) is missing, and failed under
//! CI=true (see `conformance::peers::require`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use smb_proto::auth::ntlm::av_pairs::AvPairs;
use smb_proto::auth::ntlm::messages::Authenticate;
use smb_proto::auth::ntlm::{Credentials, NtlmClient, ServerConfig, ServerIdentity};
use smb_proto::auth::spnego::NegotiationToken;
use smb_proto::auth::{
    Acceptor, AcceptorStep, AuthError, IdentityKind, Initiator, InitiatorConfig, InitiatorStep,
    NtlmPolicy, SpnegoAcceptor, SpnegoInitiator, UserStore,
};
use smb_proto::rng::SeededRng;

fn b64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn unb64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for ch in s.bytes() {
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn server_config() -> Arc<ServerConfig> {
    let mut users = UserStore::new();
    users.add_password("alice", "Secret-1");
    let mut cfg = ServerConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv.example".into(),
            dns_domain: "example".into(),
        },
        users,
    );
    cfg.require_mic = true;
    Arc::new(cfg)
}

/// The acceptor's verdict and the client's last token.
type Outcome = (Result<AcceptorStep, AuthError>, Vec<u8>);

/// Runs `ntlm_auth` as a client against our acceptor. Returns None when it is not installed.
fn run(protocol: &str, password: &str) -> Option<Outcome> {
    let mut child = match Command::new("ntlm_auth")
        .args([
            &format!("--helper-protocol={protocol}"),
            "--username=alice",
            "--domain=WORKGROUP",
            &format!("--password={password}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("ntlm_auth is installed but could not be started: {e}"),
    };
    let mut stdin = child.stdin.take()?;
    let mut stdout = BufReader::new(child.stdout.take()?);
    let mut line = String::new();
    let mut ask = |req: String, line: &mut String| {
        writeln!(stdin, "{req}").ok();
        stdin.flush().ok();
        line.clear();
        stdout.read_line(line).ok();
        line.trim_end().to_owned()
    };
    let mut acc = SpnegoAcceptor::new(
        server_config(),
        133_000_000_000_000_000,
        SeededRng::from_seed([8; 32]),
    );
    let mut reply = ask("YR".into(), &mut line);
    let mut result = None;
    let mut last = Vec::new();
    for _ in 0..4 {
        let (verb, tok) = reply.split_once(' ').unwrap_or((reply.as_str(), ""));
        assert!(
            matches!(verb, "YR" | "KK" | "AF"),
            "ntlm_auth said {reply:?}"
        );
        last = unb64(tok);
        match acc.step(&last) {
            Ok(AcceptorStep::Continue { token }) => {
                reply = ask(format!("TT {}", b64(&token)), &mut line);
            }
            Ok(done @ AcceptorStep::Done { .. }) => {
                if let AcceptorStep::Done { token: Some(t), .. } = &done {
                    // Let Samba check our final token (and our mechListMIC).
                    let answer = ask(format!("TT {}", b64(t)), &mut line);
                    assert!(
                        answer.starts_with("AF"),
                        "client refused our final token: {answer:?}"
                    );
                }
                result = Some(Ok(done));
                break;
            }
            Err(e) => {
                result = Some(Err(e));
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    result.map(|r| (r, last))
}

#[test]
fn samba_ntlmssp_client_against_our_acceptor() {
    let Some(_) = conformance::peers::require("ntlm_auth") else {
        return;
    };
    let Some((r, last)) = run("ntlmssp-client-1", "Secret-1") else {
        return;
    };
    let AcceptorStep::Done {
        identity,
        session_key,
        ..
    } = r.expect("logon succeeds")
    else {
        panic!("done expected")
    };
    // Samba's helper sends a MIC without flagging it in MsvAvFlags; the acceptor runs with
    // `require_mic`, so our MIC verification checked Samba's MIC.
    let auth = Authenticate::decode(&Bytes::from(last)).expect("AUTHENTICATE");
    assert!(auth.mic.is_some());
    let pairs = AvPairs::decode(&auth.nt_response.slice(16 + 28..)).expect("pairs");
    assert_eq!(pairs.flags() & 2, 0);
    assert_eq!(auth.encrypted_session_key.len(), 16);
    assert_eq!(identity.kind, IdentityKind::User);
    assert_eq!(identity.user, "alice");
    assert_ne!(session_key.as_bytes(), &[0; 16]);
    let Some((r, _)) = run("ntlmssp-client-1", "wrong") else {
        return;
    };
    assert!(r.expect_err("wrong password").is_logon_failure());
}

#[test]
fn samba_spnego_client_against_our_acceptor() {
    let Some(_) = conformance::peers::require("ntlm_auth") else {
        return;
    };
    let Some((r, _)) = run("gss-spnego-client", "Secret-1") else {
        return;
    };
    let AcceptorStep::Done { identity, .. } = r.expect("logon succeeds") else {
        panic!("done expected")
    };
    assert_eq!(identity.user, "alice");
    let Some((r, _)) = run("gss-spnego-client", "wrong") else {
        return;
    };
    assert_eq!(r.expect_err("wrong password"), AuthError::LogonFailure);
}

/// A helper process speaking the squid/gss-spnego line protocol.
struct Helper {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Helper {
    fn spawn(protocol: &str) -> Option<Self> {
        let mut child = Command::new("ntlm_auth")
            .args([
                &format!("--helper-protocol={protocol}"),
                "--username=alice",
                "--domain=WORKGROUP",
                "--password=Secret-1",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("ntlm_auth is installed but could not be started: {e}"));
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ntlm_auth started without pipes");
        };
        let stdout = BufReader::new(stdout);
        Some(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn ask(&mut self, verb: &str, token: &[u8]) -> (String, Vec<u8>) {
        writeln!(self.stdin, "{verb} {}", b64(token)).ok();
        self.stdin.flush().ok();
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok();
        let mut parts = line.trim_end().split(' ');
        let v = parts.next().unwrap_or_default().to_owned();
        let t = parts.next().map(unb64).unwrap_or_default();
        (v, t)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn initiator(password: &str) -> SpnegoInitiator {
    SpnegoInitiator::new(
        Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "WORKGROUP", password),
            workstation: "RUSTY".into(),
            ntlm_policy: NtlmPolicy::default(),
        }),
        "samba.example",
        133_000_000_000_000_000,
        SeededRng::from_seed([6; 32]),
    )
    .expect("allowed")
}

#[test]
fn our_spnego_initiator_against_samba_acceptor() {
    let Some(_) = conformance::peers::require("ntlm_auth") else {
        return;
    };
    for (password, ok) in [("Secret-1", true), ("wrong", false)] {
        let Some(mut h) = Helper::spawn("gss-spnego") else {
            return;
        };
        let mut c = initiator(password);
        let InitiatorStep::Continue { token } = c.step(None).expect("first") else {
            panic!("continue expected")
        };
        let (verb, challenge) = h.ask("YR", &token);
        assert_eq!(verb, "TT");
        let InitiatorStep::Continue { token } = c.step(Some(&challenge)).expect("auth") else {
            panic!("continue expected")
        };
        let (verb, last) = h.ask("KK", &token);
        if ok {
            assert_eq!(verb, "AF", "Samba refused our AUTHENTICATE");
            // Samba's final token carries its mechListMIC, which must verify (so Samba's and
            // our NTLM signing keys, RC4 sealing of the checksum and MIC input agree).
            let NegotiationToken::Resp(r) = NegotiationToken::decode(&last).expect("final") else {
                panic!("resp expected")
            };
            assert!(r.mech_list_mic.is_some());
            let done = c.step(Some(&last)).expect("final token verifies");
            assert!(matches!(done, InitiatorStep::Done { .. }));
        } else {
            assert_eq!(verb, "NA");
        }
    }
}

#[test]
fn our_ntlm_client_against_samba_ntlmssp_server() {
    let Some(_) = conformance::peers::require("ntlm_auth") else {
        return;
    };
    for (password, ok) in [("Secret-1", true), ("wrong", false)] {
        let Some(mut h) = Helper::spawn("squid-2.5-ntlmssp") else {
            return;
        };
        let mut c = NtlmClient::new(
            Credentials::from_password("alice", "WORKGROUP", password),
            "RUSTY",
            "samba.example",
            133_000_000_000_000_000,
            SeededRng::from_seed([7; 32]),
        );
        let negotiate = c.negotiate().expect("negotiate");
        let (verb, challenge) = h.ask("YR", &negotiate);
        assert_eq!(verb, "TT");
        let (auth, _) = c.authenticate(&challenge).expect("authenticate");
        let (verb, _) = h.ask("KK", &auth);
        assert_eq!(verb == "AF", ok, "Samba answered {verb}");
    }
}
