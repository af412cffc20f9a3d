//! Who may ask: NEGOTIATE (SMB2 and the SMB1 multi-protocol form), SESSION_SETUP with SPNEGO
//! and key derivation, the delayed answer to a failed logon, and the per-request checks of
//! session, signature, encryption and tree (MS-SMB2 3.3.5.2.4 - 3.3.5.2.11), and CANCEL.
//!
//! Owns: the [`Server`] methods for those steps.
//! Must not: touch files or build frames (see `commands` and `output`).

use super::*;

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

    pub(super) fn on_session_setup(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        raw: &Bytes,
        req: crate::wire::session_setup::SessionSetupRequest,
        encrypted: Option<SessionId>,
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
            // No multichannel: binding is not offered (MS-SMB2 3.3.5.5).
            let r = self.error(ch, header, NtStatus::REQUEST_NOT_ACCEPTED, None);
            return Outcome::Respond(r, Related::default());
        }
        let mut sid = header.session_id;
        if sid.0 == 0 {
            if conn.sessions.len() >= config.max_sessions {
                let r = self.error(ch, header, NtStatus::REQUEST_NOT_ACCEPTED, None);
                return Outcome::Respond(r, Related::default());
            }
            sid = SessionId(self.next_session);
            self.next_session += 1;
            let acceptor = SpnegoAcceptor::new(config.auth.clone(), filetime, conn.rng.fork());
            conn.sessions.insert(
                sid,
                Session {
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
        let Some(session) = conn.sessions.get_mut(&sid).filter(|s| !s.logged_off) else {
            let r = self.error(ch, header, NtStatus::USER_SESSION_DELETED, None);
            return Outcome::Respond(r, Related::default());
        };
        if let Some(e) = encrypted
            && e != sid
        {
            return Outcome::Disconnect("encrypted for another session");
        }
        let reauth = session.valid();
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
                    .conns
                    .get_mut(&ch)
                    .and_then(|c| c.sessions.get_mut(&sid))
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
                        conn.sessions.remove(&sid);
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
                                conn.sessions.remove(&sid);
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
                            conn.sessions.remove(&sid);
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
                            user: identity,
                        }));
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
                    session.logged_off = true;
                    let opens: Vec<Open> = conn
                        .opens
                        .values()
                        .filter(|o| o.session == sid)
                        .cloned()
                        .collect();
                    self.close_opens(ch, opens);
                } else {
                    conn.sessions.remove(&sid);
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
        let s = self.conns.get(&ch)?.sessions.get(&header.session_id)?;
        (s.valid()
            && s.crypto.is_some()
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
        let Some(crypto) = self
            .conns
            .get(&ch)
            .and_then(|c| c.sessions.get(&header.session_id))
            .and_then(|s| s.crypto.as_ref())
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
        let Some(session) = conn
            .sessions
            .get(&sid)
            .filter(|s| s.valid() && !s.logged_off)
        else {
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
                let crypto = session.crypto.as_ref();
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
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        // A signed CANCEL must verify; an unsigned one is accepted only where signing is not
        // required (MS-SMB2 3.3.5.16 processes it after the usual checks, but never answers).
        if let Some(s) = conn.sessions.get(&header.session_id)
            && encrypted.is_none()
            && s.signing_required
        {
            let ok = header.flags.contains(HeaderFlags::SIGNED)
                && s.crypto.as_ref().is_some_and(|c| {
                    let mut buf = BytesMut::from(&msg[..]);
                    c.verify(&mut buf).is_ok()
                });
            if !ok {
                return;
            }
        }
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
