//! Who may ask: NEGOTIATE (SMB2 and the SMB1 multi-protocol form), SESSION_SETUP with SPNEGO
//! and key derivation (a new session, a re-authentication, a multichannel binding with its
//! channel key, a PreviousSessionId ending the old session), the delayed answer to a failed
//! logon, and the per-request checks of session, channel, signature, encryption and tree
//! (MS-SMB2 3.3.5.2.4 - 3.3.5.2.11), and CANCEL.
//!
//! Owns: the [`Server`] methods for those steps.
//! Must not: touch files or build frames (see `commands` and `output`).

use super::*;

/// Most channels one session may have.
const MAX_CHANNELS: usize = 32;

impl Server {
    pub(super) fn handle_smb1(&mut self, ch: ConnectionHandle, now: Instant, frame: &Bytes) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        if !matches!(conn.phase, Phase::Fresh) {
            return self.drop_conn(ch, "SMB1 after negotiation", true);
        }
        let Ok(req) = Smb1NegotiateRequest::decode(frame) else {
            return self.drop_conn(ch, "SMB1 is not supported", true);
        };
        let dialect = match negotiate::smb1_answer(&self.config, &req) {
            Smb1Answer::Wildcard => Dialect::SMB2_WILDCARD,
            Smb1Answer::Smb202 => Dialect::SMB2_0_2,
            Smb1Answer::Refuse => return self.drop_conn(ch, "SMB1 is not supported", true),
        };
        // The SMB1 message used MessageId 0.
        if conn.window.consume(0, 1).is_err() {
            return self.drop_conn(ch, "MessageId replayed", true);
        }
        let system_time = self.filetime(now);
        let caps = if dialect == Dialect::SMB2_WILDCARD {
            crate::wire::negotiate::Capabilities::LARGE_MTU
        } else {
            crate::wire::negotiate::Capabilities::empty()
        };
        let body = negotiate::response_for(&self.config, dialect, system_time, Vec::new(), caps);
        let conn = match self.conns.get_mut(&ch) {
            Some(c) => c,
            None => return,
        };
        conn.phase = if dialect == Dialect::SMB2_WILDCARD {
            Phase::Wildcard
        } else {
            Phase::Ready(ServerNegotiated {
                dialect,
                cipher: None,
                signing: None,
                capabilities: caps,
                security_mode: body.security_mode,
                client_capabilities: crate::wire::negotiate::Capabilities::empty(),
                client_guid: crate::wire::Guid::default(),
                client_security_mode: SecurityMode::empty(),
                client_dialects: vec![Dialect::SMB2_0_2],
                transport_security: false,
            })
        };
        let header = Header {
            command: Command::NEGOTIATE,
            credits: 1,
            flags: HeaderFlags::SERVER_TO_REDIR,
            ..Header::default()
        };
        grant_credits(&mut conn.window, 1, self.config.max_credits);
        match encode_message(&header, &ResponsePayload::Body(body.into())) {
            Ok(buf) => self.transmit_single(ch, Resp::new(buf, None), None),
            Err(_) => self.drop_conn(ch, "cannot encode", true),
        }
    }

    pub(super) fn on_negotiate(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        raw: &Bytes,
        req: &crate::wire::negotiate::NegotiateRequest,
    ) -> Outcome {
        let system_time = self.filetime(now);
        let Some(conn) = self.conns.get_mut(&ch) else {
            return Outcome::Disconnect("gone");
        };
        if matches!(conn.phase, Phase::Ready(_)) {
            return Outcome::Disconnect("second NEGOTIATE");
        }
        let salt = conn.rng.bytes::<32>();
        match negotiate::negotiate(&self.config, conn.transport, req, system_time, salt) {
            Ok((n, body)) => {
                let is_311 = n.dialect == Dialect::SMB3_1_1;
                conn.phase = Phase::Ready(n);
                let r = self.respond(
                    ch,
                    header,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(body.into()),
                    None,
                    None,
                );
                if let Some(conn) = self.conns.get_mut(&ch) {
                    conn.preauth = is_311.then(|| {
                        let mut h = PreauthHash::new();
                        h.update(raw);
                        h.update(r.message());
                        h
                    });
                }
                Outcome::Respond(r, Related::default())
            }
            Err(status) => {
                let r = self.error(ch, header, status, None);
                Outcome::RespondAndClose(r)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_session_setup(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        raw: &Bytes,
        req: crate::wire::session_setup::SessionSetupRequest,
        encrypted: Option<SessionId>,
        signature: Option<bool>,
    ) -> Outcome {
        let config = self.config.clone();
        let filetime = self.filetime(now);
        let Some(conn) = self.conns.get_mut(&ch) else {
            return Outcome::Disconnect("gone");
        };
        let Some(n) = conn.negotiated().cloned() else {
            return Outcome::Disconnect("SESSION_SETUP before NEGOTIATE");
        };
        if req.flags.contains(SessionSetupFlags::BINDING) {
            return self.on_bind(ch, now, header, raw, req, &n, encrypted, signature);
        }
        let mut sid = header.session_id;
        if sid.0 == 0 {
            let here = self
                .sessions
                .values()
                .filter(|s| s.channels.contains_key(&ch))
                .count();
            if here >= config.max_sessions {
                let r = self.error(ch, header, NtStatus::REQUEST_NOT_ACCEPTED, None);
                return Outcome::Respond(r, Related::default());
            }
            sid = SessionId(self.next_session);
            self.next_session += 1;
            let acceptor = SpnegoAcceptor::new(config.auth.clone(), filetime, conn.rng.fork());
            self.sessions.insert(
                sid,
                Session {
                    channels: BTreeMap::from([(ch, Channel::primary())]),
                    dialect: n.dialect,
                    cipher: n.cipher,
                    signing_algorithm: n.signing,
                    acceptor: Some(Box::new(acceptor)),
                    preauth: conn.preauth.clone(),
                    crypto: None,
                    identity: None,
                    signing_required: false,
                    encrypt: false,
                    trees: BTreeMap::new(),
                    next_tree: 1,
                    logged_off: false,
                },
            );
        }
        // A session this connection is not a (bound) channel of is unknown here, even when
        // another connection uses it (MS-SMB2 3.3.5.5.3 looks it up in the connection's
        // channels; smbd answers the same).
        let Some(session) = self
            .sessions
            .get_mut(&sid)
            .filter(|s| !s.logged_off && s.channels.get(&ch).is_some_and(|c| c.ready))
        else {
            let r = self.error(ch, header, NtStatus::USER_SESSION_DELETED, None);
            return Outcome::Respond(r, Related::default());
        };
        if let Some(e) = encrypted
            && e != sid
        {
            return Outcome::Disconnect("encrypted for another session");
        }
        let reauth = session.valid();
        // A re-authentication runs on an established session: like any request on it, it is
        // signed with this channel's key where signing is required (MS-SMB2 3.3.5.2.4).
        if reauth
            && encrypted.is_none()
            && (signature == Some(false) || (signature.is_none() && session.signing_required))
        {
            let r = if signature.is_some() {
                self.session_signed_error(ch, header, NtStatus::ACCESS_DENIED, sid)
            } else {
                self.error(ch, header, NtStatus::ACCESS_DENIED, None)
            };
            return Outcome::Respond(r, Related::default());
        }
        if session.acceptor.is_none() {
            session.acceptor = Some(Box::new(SpnegoAcceptor::new(
                config.auth.clone(),
                filetime,
                conn.rng.fork(),
            )));
        }
        if !reauth && let Some(h) = session.preauth.as_mut() {
            h.update(raw);
        }
        let step = match session.acceptor.as_mut() {
            Some(a) => a.step(&req.security_buffer),
            None => Err(crate::auth::AuthError::Finished),
        };
        let mut rh = *header;
        rh.session_id = sid;
        match step {
            Ok(AcceptorStep::Continue { token }) => {
                let body = SessionSetupResponse {
                    session_flags: SessionFlags::empty(),
                    security_buffer: token,
                };
                // A re-authentication runs on a session that already has keys: its interim
                // answers are signed like any other response on it (as smbd does; a client
                // that requires signing rejects them otherwise).
                let sign = if reauth {
                    self.sign_for(ch, &rh, encrypted)
                } else {
                    None
                };
                let r = self.respond(
                    ch,
                    &rh,
                    NtStatus::MORE_PROCESSING_REQUIRED,
                    ResponsePayload::Body(body.into()),
                    None,
                    sign,
                );
                if let Some(h) = self
                    .sessions
                    .get_mut(&sid)
                    .filter(|_| !reauth)
                    .and_then(|s| s.preauth.as_mut())
                {
                    h.update(r.message());
                }
                Outcome::Respond(r, Related::default())
            }
            Ok(AcceptorStep::Done {
                token,
                session_key,
                identity,
            }) => {
                session.acceptor = None;
                let anonymous = identity.kind != IdentityKind::User;
                let mut flags = SessionFlags::empty();
                match identity.kind {
                    IdentityKind::Guest => flags.insert(SessionFlags::IS_GUEST),
                    IdentityKind::Anonymous => flags.insert(SessionFlags::IS_NULL),
                    IdentityKind::User => {}
                }
                let client_requires = req.security_mode.contains(SecurityMode::SIGNING_REQUIRED);
                if reauth {
                    session.identity = Some(identity);
                } else {
                    if anonymous && (config.signing_required || config.encrypt_data) {
                        // A guest or null session cannot sign or encrypt.
                        self.sessions.remove(&sid);
                        return self.auth_failed(ch, now, &rh, NtStatus::ACCESS_DENIED, None);
                    }
                    let preauth = session.preauth.take().map(|h| *h.value());
                    if !anonymous {
                        match SessionCrypto::new(
                            Role::Server,
                            n.dialect.0,
                            n.cipher,
                            n.signing,
                            session_key.as_bytes(),
                            preauth.as_ref(),
                            &mut conn.rng,
                        ) {
                            Ok(c) => session.crypto = Some(c),
                            Err(_) => {
                                self.sessions.remove(&sid);
                                let r = self.error(ch, &rh, NtStatus::INTERNAL_ERROR, None);
                                return Outcome::Respond(r, Related::default());
                            }
                        }
                    }
                    let can_encrypt = session.crypto.as_ref().is_some_and(|c| c.can_encrypt());
                    // Trusted QUIC transport security replaces SMB encryption (MS-SMB2 3.3.5.4).
                    if config.encrypt_data && !n.transport_security {
                        if can_encrypt {
                            session.encrypt = true;
                            flags.insert(SessionFlags::ENCRYPT_DATA);
                        } else if config.reject_unencrypted_access {
                            self.sessions.remove(&sid);
                            let r = self.error(ch, &rh, NtStatus::ACCESS_DENIED, None);
                            return Outcome::Respond(r, Related::default());
                        }
                    }
                    session.signing_required =
                        !anonymous && (config.signing_required || client_requires);
                    session.identity = Some(identity.clone());
                    self.outbox
                        .push_back(ServerOutput::Event(ServerEvent::SessionEstablished {
                            ch,
                            session: sid,
                            user: identity.clone(),
                        }));
                    // MS-SMB2 3.3.5.5.3: a new session naming a previous one of the same user
                    // ends it (the client lost that connection and reconnected).
                    let prev = req.previous_session_id;
                    if prev.0 != 0
                        && prev != sid
                        && self
                            .sessions
                            .get(&prev)
                            .and_then(|p| p.identity.as_ref())
                            .is_some_and(|p| same_user(p, &identity))
                    {
                        self.end_session(prev, true);
                        self.reap_sessions(ch);
                    }
                }
                let body = SessionSetupResponse {
                    session_flags: flags,
                    security_buffer: token.unwrap_or_default(),
                };
                // MS-SMB2 3.3.5.5.3: the final response is signed with the new key (always on
                // 3.1.1, where the client must verify it), unless guest or anonymous.
                let sign = (!anonymous && encrypted.is_none()).then_some(sid);
                let r = self.respond(
                    ch,
                    &rh,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(body.into()),
                    None,
                    sign,
                );
                Outcome::Respond(
                    r,
                    Related {
                        session: sid,
                        ..Related::default()
                    },
                )
            }
            Err(e) => {
                if reauth {
                    // A failed re-authentication ends the session: its opens are closed and
                    // it goes away once the (delayed) failure is sent.
                    self.end_session(sid, false);
                } else {
                    self.sessions.remove(&sid);
                }
                let status = e.nt_status();
                // A failed re-authentication is answered on the session it ends, signed.
                let sign = if reauth {
                    self.sign_for(ch, &rh, encrypted)
                } else {
                    None
                };
                self.auth_failed(ch, now, &rh, status, sign)
            }
        }
    }

    /// A SESSION_SETUP with SMB2_SESSION_FLAG_BINDING: this connection asks to become
    /// another channel of an established session (MS-SMB2 3.3.5.5.2). The checks run in the
    /// order smbd runs them, so each refusal has the status Windows and smbd give.
    #[allow(clippy::too_many_arguments)]
    fn on_bind(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        raw: &Bytes,
        req: crate::wire::session_setup::SessionSetupRequest,
        n: &ServerNegotiated,
        encrypted: Option<SessionId>,
        signature: Option<bool>,
    ) -> Outcome {
        let refuse = |s: &mut Self, status: NtStatus| {
            let r = s.error(ch, header, status, None);
            Outcome::Respond(r, Related::default())
        };
        // Once the request verified with the session's key, a refusal is signed with it too:
        // a client that requires signing would otherwise report ACCESS_DENIED instead.
        let refuse_signed = |s: &mut Self, status: NtStatus| {
            let r = s.error(ch, header, status, Some(header.session_id));
            Outcome::Respond(r, Related::default())
        };
        let sid = header.session_id;
        if sid.0 == 0 {
            return refuse(self, NtStatus::INVALID_PARAMETER);
        }
        if encrypted.is_some() {
            // A binding is signed, never sealed: the new channel has no keys yet.
            return Outcome::Disconnect("encrypted session binding");
        }
        let config = self.config.clone();
        let filetime = self.filetime(now);
        let Some(session) = self
            .sessions
            .get(&sid)
            .filter(|s| s.valid() && !s.logged_off)
        else {
            return refuse(self, NtStatus::USER_SESSION_DELETED);
        };
        let continuing = session
            .channels
            .get(&ch)
            .map(|c| c.acceptor.is_some() && !c.ready);
        match continuing {
            // This connection already is a channel of the session.
            Some(false) => {
                // Verified with the channel's own key, which a second binding does not use.
                if signature != Some(true) {
                    let r = self.session_signed_error(ch, header, NtStatus::ACCESS_DENIED, sid);
                    return Outcome::Respond(r, Related::default());
                }
                return refuse_signed(self, NtStatus::REQUEST_NOT_ACCEPTED);
            }
            Some(true) => {}
            None => {
                // The binding must be signed with the session's key (3.3.5.5.2).
                match signature {
                    None => return refuse(self, NtStatus::INVALID_PARAMETER),
                    Some(false) => return refuse(self, NtStatus::ACCESS_DENIED),
                    Some(true) => {}
                }
                if let Err(status) = bind_allowed(&config, session, n) {
                    return refuse_signed(self, status);
                }
                // Bounded, as Windows bounds it (smbtorture smb2.multichannel.generic
                // num_channels expects the 33rd binding refused this way).
                if session.channels.len() >= MAX_CHANNELS {
                    return refuse_signed(self, NtStatus::INSUFFICIENT_RESOURCES);
                }
            }
        }
        if continuing.is_some() && signature != Some(true) {
            return refuse(self, NtStatus::ACCESS_DENIED);
        }
        let Some(conn) = self.conns.get_mut(&ch) else {
            return Outcome::Disconnect("gone");
        };
        let Some(session) = self.sessions.get_mut(&sid) else {
            return refuse(self, NtStatus::USER_SESSION_DELETED);
        };
        let channel = session.channels.entry(ch).or_insert_with(|| Channel {
            signer: None,
            acceptor: Some(Box::new(SpnegoAcceptor::new(
                config.auth.clone(),
                filetime,
                conn.rng.fork(),
            ))),
            preauth: conn.preauth.clone(),
            ready: false,
        });
        if let Some(h) = channel.preauth.as_mut() {
            h.update(raw);
        }
        let step = match channel.acceptor.as_mut() {
            Some(a) => a.step(&req.security_buffer),
            None => Err(crate::auth::AuthError::Finished),
        };
        match step {
            Ok(AcceptorStep::Continue { token }) => {
                let body = SessionSetupResponse {
                    session_flags: SessionFlags::empty(),
                    security_buffer: token,
                };
                // Signed with the session's key, as the request was (smbd does the same).
                let r = self.respond(
                    ch,
                    header,
                    NtStatus::MORE_PROCESSING_REQUIRED,
                    ResponsePayload::Body(body.into()),
                    None,
                    Some(sid),
                );
                // The client hashes the response as it arrives, signed: hash those bytes
                // (signing is deterministic, so `protect_single` produces the same ones).
                if let Some(s) = self.sessions.get_mut(&sid)
                    && let Some(key) = s.crypto.as_ref()
                    && let Some(h) = s.channels.get_mut(&ch).and_then(|c| c.preauth.as_mut())
                {
                    let mut signed = BytesMut::from(r.message());
                    set_signed_flag(&mut signed);
                    if key.sign(&mut signed).is_err() {
                        return Outcome::Disconnect("cannot sign");
                    }
                    h.update(&signed);
                }
                Outcome::Respond(r, Related::default())
            }
            Ok(AcceptorStep::Done {
                token,
                session_key,
                identity,
            }) => {
                // The same user must authenticate on the new channel (3.3.5.5.3).
                let same = session
                    .identity
                    .as_ref()
                    .is_some_and(|u| same_user(u, &identity));
                let preauth = channel.preauth.take().map(|h| *h.value());
                channel.acceptor = None;
                // The channel signs with a key of its own: derived from this authentication's
                // session key and, on 3.1.1, this channel's preauth hash (3.3.5.5.3), with
                // this connection's signing algorithm.
                let signer = if same {
                    SessionCrypto::new(
                        Role::Server,
                        n.dialect.0,
                        None,
                        n.signing,
                        session_key.as_bytes(),
                        preauth.as_ref(),
                        &mut conn.rng,
                    )
                    .ok()
                } else {
                    None
                };
                let Some(signer) = signer else {
                    session.channels.remove(&ch);
                    // Signed with the session's key, as the binding's requests were.
                    return refuse_signed(self, NtStatus::ACCESS_DENIED);
                };
                channel.signer = Some(signer);
                channel.ready = true;
                let mut flags = SessionFlags::empty();
                if session.encrypt {
                    flags.insert(SessionFlags::ENCRYPT_DATA);
                }
                let body = SessionSetupResponse {
                    session_flags: flags,
                    security_buffer: token.unwrap_or_default(),
                };
                // Signed with the new channel's key.
                let r = self.respond(
                    ch,
                    header,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(body.into()),
                    None,
                    Some(sid),
                );
                Outcome::Respond(
                    r,
                    Related {
                        session: sid,
                        ..Related::default()
                    },
                )
            }
            Err(e) => {
                // The session lives on; only this binding fails.
                session.channels.remove(&ch);
                let status = if e.is_logon_failure() {
                    NtStatus::LOGON_FAILURE
                } else {
                    NtStatus::INTERNAL_ERROR
                };
                // Signed with the session's key, as the binding's requests were.
                self.auth_failed(ch, now, header, status, Some(sid))
            }
        }
    }

    /// An error answer to a signed SESSION_SETUP that did not verify with this channel's key,
    /// signed with the session's own key (its first channel's): a client falls back to that
    /// key for a SESSION_SETUP on a channel it holds no key of its own for, so it reads the
    /// status instead of dropping the connection over an unverifiable answer.
    fn session_signed_error(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        status: NtStatus,
        sid: SessionId,
    ) -> Resp {
        let mut r = self.error(ch, header, status, None);
        let lead = r.lead;
        if let Some(key) = self.sessions.get(&sid).and_then(|s| s.crypto.as_ref())
            && let Some(msg) = r.buf.get_mut(lead..)
        {
            let mut signed = BytesMut::from(&msg[..]);
            set_signed_flag(&mut signed);
            if key.sign(&mut signed).is_ok() {
                msg.copy_from_slice(&signed);
            }
        }
        r
    }

    /// A failed authentication: answered only after the configured delay, on a timer.
    pub(super) fn auth_failed(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        status: NtStatus,
        sign: Option<SessionId>,
    ) -> Outcome {
        self.outbox
            .push_back(ServerOutput::Event(ServerEvent::AuthFailed { ch, status }));
        let r = self.error(ch, header, status, sign);
        Outcome::Delay(r, now + self.config.auth_failure_delay)
    }

    /// Whether a response to this request is signed, when its session is known.
    pub(super) fn sign_for(
        &self,
        ch: ConnectionHandle,
        header: &Header,
        encrypted: Option<SessionId>,
    ) -> Option<SessionId> {
        if encrypted.is_some() {
            return None;
        }
        let s = self.sessions.get(&header.session_id)?;
        // Only on a connection that is a channel of the session: elsewhere the session is
        // unknown (USER_SESSION_DELETED goes out unsigned, as smbd sends it).
        (s.valid()
            && s.channels.contains_key(&ch)
            && s.signer(ch).is_some()
            && (s.signing_required || header.flags.contains(HeaderFlags::SIGNED)))
        .then_some(header.session_id)
    }

    /// Checks a signed, unencrypted request's signature against its session's key:
    /// `Some(valid)`, or `None` when there is nothing to check. Takes the message by value so
    /// the verification runs in place when nothing else holds the buffer.
    pub(super) fn verify_early(
        &self,
        ch: ConnectionHandle,
        header: &Header,
        msg: Bytes,
        encrypted: Option<SessionId>,
    ) -> (Bytes, Option<bool>) {
        if encrypted.is_some() || !header.flags.contains(HeaderFlags::SIGNED) {
            return (msg, None);
        }
        // The channel's key, or the session's for a binding still authenticating (and for
        // the first leg of a binding, whose connection is no channel yet).
        let Some(crypto) = self
            .sessions
            .get(&header.session_id)
            .and_then(|s| s.signer(ch))
        else {
            return (msg, None);
        };
        let mut buf = msg
            .try_into_mut()
            .unwrap_or_else(|m| BytesMut::from(&m[..]));
        let ok = crypto.verify(&mut buf).is_ok();
        (buf.freeze(), Some(ok))
    }

    /// Validates session, signature, encryption and tree (MS-SMB2 3.3.5.2.4 - 3.3.5.2.11).
    pub(super) fn check(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        signature: Option<bool>,
        encrypted: Option<SessionId>,
        needs_tree: bool,
    ) -> Result<Ctx, Refuse> {
        let reject = self.config.reject_unencrypted_access;
        let max_violations = self.config.max_signing_violations;
        let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
        let sid = header.session_id;
        // MS-SMB2 3.3.5.2.9: the session, and this connection among its channels.
        let Some(session) = self.sessions.get(&sid).filter(|s| s.usable_on(ch)) else {
            return Err(NtStatus::USER_SESSION_DELETED.into());
        };
        if let Some(e) = encrypted
            && e != sid
        {
            return Err(Refuse::Disconnect("encrypted for another session"));
        }
        let mut sign = None;
        if encrypted.is_none() {
            if session.encrypt && reject {
                return Err(NtStatus::ACCESS_DENIED.into());
            }
            if header.flags.contains(HeaderFlags::SIGNED) {
                let crypto = session.signer(ch);
                if crypto.is_none() || signature != Some(true) {
                    return Err(NtStatus::ACCESS_DENIED.into());
                }
                sign = Some(sid);
            } else if session.signing_required {
                conn.signing_violations += 1;
                if conn.signing_violations > max_violations {
                    return Err(Refuse::Disconnect("repeated unsigned requests"));
                }
                return Err(NtStatus::ACCESS_DENIED.into());
            }
        }
        let tree_id = header.tree_id().unwrap_or_default();
        if needs_tree {
            let Some(tree) = session.trees.get(&tree_id) else {
                return Err(NtStatus::NETWORK_NAME_DELETED.into());
            };
            if tree.encrypt && encrypted.is_none() && reject {
                return Err(NtStatus::ACCESS_DENIED.into());
            }
        }
        Ok(Ctx {
            session: sid,
            tree: tree_id,
            sign,
        })
    }

    pub(super) fn on_cancel(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        msg: &Bytes,
        encrypted: Option<SessionId>,
    ) {
        // A signed CANCEL must verify; an unsigned one is accepted only where signing is not
        // required (MS-SMB2 3.3.5.16 processes it after the usual checks, but never answers).
        if let Some(s) = self.sessions.get(&header.session_id)
            && encrypted.is_none()
            && s.signing_required
        {
            let ok = header.flags.contains(HeaderFlags::SIGNED)
                && s.signer(ch).is_some_and(|c| {
                    let mut buf = BytesMut::from(&msg[..]);
                    c.verify(&mut buf).is_ok()
                });
            if !ok {
                return;
            }
        }
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let async_target = header.async_id();
        let mut target = None;
        for chain in conn.chains.values_mut() {
            if let Some(cur) = chain.current.as_mut() {
                let hit = match async_target {
                    Some(a) => cur.async_id == Some(a),
                    None => cur.header.message_id == header.message_id,
                };
                if hit && cur.header.session_id == header.session_id && !cur.cancelled {
                    cur.cancelled = true;
                    target = Some(cur.op);
                }
            }
        }
        if let Some(op) = target {
            self.outbox.push_back(ServerOutput::Cancel(op));
        }
    }
}

/// Whether `n`'s connection may bind `session` as another channel, else the status to refuse
/// with (MS-SMB2 3.3.5.5.2, in smbd's order: a GMAC signing mismatch first, then
/// multichannel and dialect, then the cipher, then guest and anonymous sessions).
fn bind_allowed(
    config: &ServerConfig,
    session: &Session,
    n: &ServerNegotiated,
) -> Result<(), NtStatus> {
    use smb_crypto::SigningAlgorithm;
    let gmac = |a: Option<SigningAlgorithm>| a == Some(SigningAlgorithm::AES_GMAC);
    if gmac(session.signing_algorithm) && n.signing != session.signing_algorithm {
        return Err(NtStatus::REQUEST_OUT_OF_SEQUENCE);
    }
    if gmac(n.signing) && n.signing != session.signing_algorithm {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    if !config.multichannel
        || n.dialect < Dialect::SMB3_0
        || n.dialect == Dialect::SMB2_WILDCARD
        || !n
            .capabilities
            .contains(crate::wire::negotiate::Capabilities::MULTI_CHANNEL)
    {
        return Err(NtStatus::REQUEST_NOT_ACCEPTED);
    }
    if n.dialect != session.dialect || n.cipher != session.cipher {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if session
        .identity
        .as_ref()
        .is_none_or(|i| i.kind != IdentityKind::User)
        || session.crypto.is_none()
    {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    Ok(())
}

/// Whether two authentications name the same account (user names compare as the user store
/// matches them, case-insensitively).
pub(super) fn same_user(a: &crate::auth::Identity, b: &crate::auth::Identity) -> bool {
    a.kind == b.kind && a.user.eq_ignore_ascii_case(&b.user)
}
