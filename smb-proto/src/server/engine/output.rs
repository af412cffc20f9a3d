//! Turning responses into frames: credits granted, READ data framed in place, messages
//! compounded, signed or sealed, interim responses.
//!
//! Owns: the [`Server`] methods that build and protect what leaves a connection.
//! Must not: decide what to answer (the request handlers do).

use super::*;

impl Server {
    pub(super) fn protect_single(
        &mut self,
        ch: ConnectionHandle,
        r: Resp,
        encrypted: Option<SessionId>,
    ) -> Result<Bytes, &'static str> {
        if r.message().len() < Header::SIZE {
            return Err("short message");
        }
        if !self.conns.contains_key(&ch) {
            return Err("gone");
        }
        if let Some(sid) = encrypted {
            let crypto = self
                .sessions
                .get_mut(&sid)
                .and_then(|s| s.crypto.as_mut())
                .ok_or("session without keys")?;
            if r.lead == SEAL_HEADROOM {
                return crypto
                    .seal_in_place(sid.0, r.buf)
                    .map_err(|_| "cannot seal");
            }
            return crypto.seal(sid.0, r.message()).map_err(|_| "cannot seal");
        }
        let sign = r.sign;
        let mut buf = r.framed();
        if let Some(sid) = sign {
            // Each channel signs with its own key (MS-SMB2 3.3.4.1.1).
            let crypto = self
                .sessions
                .get(&sid)
                .and_then(|s| s.signer(ch))
                .ok_or("session without keys")?;
            let msg = buf.get_mut(FRAME_HEADER_LEN..).ok_or("short message")?;
            set_signed_flag(msg);
            crypto.sign(msg).map_err(|_| "cannot sign")?;
        }
        let len = buf.len() - FRAME_HEADER_LEN;
        let hdr = encode_frame_header(len).map_err(|_| "response too large")?;
        buf[..FRAME_HEADER_LEN].copy_from_slice(&hdr);
        Ok(buf.freeze())
    }

    pub(super) fn protect_compound(
        &mut self,
        ch: ConnectionHandle,
        responses: Vec<Resp>,
        encrypted: Option<SessionId>,
    ) -> Result<Bytes, &'static str> {
        if !self.conns.contains_key(&ch) {
            return Err("gone");
        }
        let total: usize = responses.iter().map(|r| r.message().len() + 8).sum();
        let mut out = BytesMut::with_capacity(FRAME_HEADER_LEN + total);
        out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        let ranges = {
            let mut b = CompoundBuilder::new(&mut out);
            for r in &responses {
                b.start_message()
                    .map_err(|_| "cannot compound")?
                    .bytes(r.message());
            }
            b.finish().map_err(|_| "cannot compound")?
        };
        if let Some(sid) = encrypted {
            let crypto = self
                .sessions
                .get_mut(&sid)
                .and_then(|s| s.crypto.as_mut())
                .ok_or("session without keys")?;
            return crypto
                .seal(sid.0, out.get(FRAME_HEADER_LEN..).unwrap_or(&[]))
                .map_err(|_| "cannot seal");
        }
        for (range, r) in ranges.into_iter().zip(&responses) {
            if let Some(sid) = &r.sign {
                let crypto = self
                    .sessions
                    .get(sid)
                    .and_then(|s| s.signer(ch))
                    .ok_or("session without keys")?;
                let msg = out.get_mut(range).ok_or("bad range")?;
                set_signed_flag(msg);
                crypto.sign(msg).map_err(|_| "cannot sign")?;
            }
        }
        let len = out.len().saturating_sub(FRAME_HEADER_LEN);
        let hdr = encode_frame_header(len).map_err(|_| "response too large")?;
        out.get_mut(..FRAME_HEADER_LEN)
            .ok_or("short message")?
            .copy_from_slice(&hdr);
        Ok(out.freeze())
    }

    pub(super) fn transmit_single(
        &mut self,
        ch: ConnectionHandle,
        r: Resp,
        encrypted: Option<SessionId>,
    ) {
        match self.protect_single(ch, r, encrypted) {
            Ok(data) => self.outbox.push_back(ServerOutput::Transmit { ch, data }),
            Err(why) => self.drop_conn(ch, why, true),
        }
    }

    pub(super) fn send_interim(&mut self, ch: ConnectionHandle, id: u64) {
        let aid = AsyncId(self.next_async);
        self.next_async += 1;
        let max = self.config.max_credits;
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let Some(chain) = conn.chains.get_mut(&id) else {
            return;
        };
        let encrypted = chain.encrypted;
        let Some(cur) = chain.current.as_mut() else {
            return;
        };
        cur.async_id = Some(aid);
        let req = cur.header;
        let granted = grant_credits(&mut conn.window, req.credits, max);
        let header = Header {
            credit_charge: req.credit_charge,
            status: NtStatus::PENDING,
            command: req.command,
            credits: granted,
            flags: HeaderFlags::SERVER_TO_REDIR | HeaderFlags::ASYNC_COMMAND,
            next_command: 0,
            message_id: req.message_id,
            id: HeaderId::Async(aid),
            session_id: req.session_id,
            signature: [0; 16],
        };
        // MS-SMB2 3.3.4.2: an interim response is not signed (it is sealed when the request
        // was). In a compound, the responses gathered so far go out with it (3.3.4.1.3).
        let mut responses = std::mem::take(&mut chain.responses);
        match encode_message(&header, &ResponsePayload::Error(ErrorResponse::empty())) {
            Ok(buf) => responses.push(Resp::new(buf, None)),
            Err(()) => return self.drop_conn(ch, "cannot encode", true),
        }
        let frame = if responses.len() == 1 {
            let r = responses.remove(0);
            self.protect_single(ch, r, encrypted)
        } else {
            self.protect_compound(ch, responses, encrypted)
        };
        match frame {
            Ok(data) => self.outbox.push_back(ServerOutput::Transmit { ch, data }),
            Err(why) => self.drop_conn(ch, why, true),
        }
    }

    /// Encodes a response to `req` granting credits (none for a final async response).
    pub(super) fn respond(
        &mut self,
        ch: ConnectionHandle,
        req: &Header,
        status: NtStatus,
        payload: ResponsePayload,
        async_id: Option<AsyncId>,
        sign: Option<SessionId>,
    ) -> Resp {
        let mut header = self.response_header(ch, req, status, async_id);
        if sign.is_none()
            && status == NtStatus::USER_SESSION_DELETED
            && req.flags.contains(HeaderFlags::SIGNED)
        {
            // The session (and its key) is gone, so the answer cannot be signed; like smbd
            // and Windows, it carries the SIGNED flag and echoes the request's signature, which
            // a client that requires signing accepts for this status only (smbXcli, MS-SMB2
            // 3.3.4.1.1 signs only with a known session).
            header.flags.insert(HeaderFlags::SIGNED);
            header.signature = req.signature;
        }
        let buf = encode_message(&header, &payload).unwrap_or_else(|_| {
            // Our own body did not encode (a name too long for its field): answer with a
            // plain error instead.
            let h = Header {
                status: NtStatus::INTERNAL_ERROR,
                ..header
            };
            encode_message(&h, &ResponsePayload::Error(ErrorResponse::empty()))
                .unwrap_or_else(|_| BytesMut::new())
        });
        Resp::new(buf, sign)
    }

    /// The header of a response to `req`, granting credits (none on a final async response,
    /// whose interim response granted them).
    pub(super) fn response_header(
        &mut self,
        ch: ConnectionHandle,
        req: &Header,
        status: NtStatus,
        async_id: Option<AsyncId>,
    ) -> Header {
        let max = self.config.max_credits;
        let granted = match (async_id, self.conns.get_mut(&ch)) {
            (None, Some(c)) => grant_credits(&mut c.window, req.credits, max),
            _ => 0,
        };
        let mut flags = HeaderFlags::SERVER_TO_REDIR;
        if req.flags.contains(HeaderFlags::RELATED_OPERATIONS) {
            flags.insert(HeaderFlags::RELATED_OPERATIONS);
        }
        let id = match async_id {
            Some(a) => {
                flags.insert(HeaderFlags::ASYNC_COMMAND);
                HeaderId::Async(a)
            }
            None => req.id,
        };
        Header {
            credit_charge: req.credit_charge,
            status,
            command: req.command,
            credits: granted,
            flags,
            next_command: 0,
            message_id: req.message_id,
            id,
            session_id: req.session_id,
            signature: [0; 16],
        }
    }

    pub(super) fn error(
        &mut self,
        ch: ConnectionHandle,
        req: &Header,
        status: NtStatus,
        sign: Option<SessionId>,
    ) -> Resp {
        self.respond(
            ch,
            req,
            status,
            ResponsePayload::Error(ErrorResponse::empty()),
            None,
            sign,
        )
    }
}

/// How far the MessageId window may stretch past its lowest unused id, in multiples of the
/// credit limit: a client that skips an id (smbtorture smb2.credits.skipped_mid) keeps being
/// served until it is this far ahead.
pub(super) const SPAN_FACTOR: usize = 8;

/// The credit grant policy: what the client asks for (at least one), as long as it holds no
/// more than `max_credits` unused ids, within a bounded window span.
pub(super) fn grant_credits(window: &mut ServerWindow, requested: u16, max_credits: u16) -> u16 {
    let held = usize::try_from(window.outstanding()).unwrap_or(usize::MAX);
    let room = usize::from(max_credits).saturating_sub(held);
    let want = usize::from(requested.max(1)).min(room);
    let want = u16::try_from(want).unwrap_or(u16::MAX);
    window.grant(want, usize::from(max_credits).saturating_mul(SPAN_FACTOR))
}

/// Sets the SIGNED flag in an encoded header (it is covered by the signature).
pub(super) fn set_signed_flag(msg: &mut [u8]) {
    let at = Header::FLAGS_OFFSET;
    if let Some(b) = msg.get_mut(at..at + 4) {
        let f = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) | HeaderFlags::SIGNED.bits();
        b.copy_from_slice(&f.to_le_bytes());
    }
}

/// Turns a filled [`ReadBuf`] into a READ response behind 4 reserved bytes, writing the SMB2
/// header and the READ body into the buffer's headroom: the data is not copied.
/// `lead` bytes stay reserved in front of the message: [`FRAME_HEADER_LEN`], or
/// [`SEAL_HEADROOM`] for a response that will be sealed in place.
pub(super) fn read_in_place(header: &Header, buf: ReadBuf, lead: usize) -> Result<BytesMut, ()> {
    let mut b = buf.into_inner();
    let data_len = b.len().checked_sub(READ_HEADROOM).ok_or(())?;
    let mut fixed = BytesMut::with_capacity(Header::SIZE + ReadResponse::FIXED_LEN);
    {
        let mut w = Writer::new(&mut fixed);
        header.encode(&mut w).map_err(|_| ())?;
        ReadResponse::encode_fixed(&mut w, data_len, 0, 0).map_err(|_| ())?;
    }
    let start = READ_HEADROOM.checked_sub(fixed.len() + lead).ok_or(())?;
    let _ = b.split_to(start);
    b.get_mut(lead..lead + fixed.len())
        .ok_or(())?
        .copy_from_slice(&fixed);
    Ok(b)
}

/// Encodes one message behind 4 reserved bytes.
pub(super) fn encode_message(header: &Header, payload: &ResponsePayload) -> Result<BytesMut, ()> {
    let mut buf = BytesMut::with_capacity(FRAME_HEADER_LEN + 256);
    buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    let mut w = Writer::continuing(&mut buf, FRAME_HEADER_LEN);
    header.encode(&mut w).map_err(|_| ())?;
    match payload {
        ResponsePayload::Body(b) => b.encode_into(&mut w),
        ResponsePayload::Error(e) => e.encode(&mut w),
    }
    .map_err(|_| ())?;
    Ok(buf)
}
