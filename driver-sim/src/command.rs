//! Commands a workload issues to a client connection, as data.
//!
//! Owns: [`ClientCommand`], so that the live run and a replay issue commands through one path
//! ([`ClientCommand::apply`]) and a trace can carry them. Authentication is described by its
//! credentials and RNG seed, from which the same SPNEGO/NTLM initiator is rebuilt.
//! Must not: decide what to issue (workloads do).

use std::sync::Arc;
use std::time::Instant;

use smb_proto::auth::ntlm::Credentials;
use smb_proto::auth::{InitiatorConfig, SpnegoInitiator};
use smb_proto::client::{Connection, RequestId, SendError};
use smb_proto::rng::SeededRng;
use smb_proto::wire::message::RequestBody;
use smb_proto::wire::{SessionId, TreeId};

/// One command issued to a [`Connection`].
#[derive(Debug, Clone)]
pub enum ClientCommand {
    /// `session_setup` with SPNEGO/NTLMv2.
    SessionSetup {
        /// User name.
        user: String,
        /// Domain.
        domain: String,
        /// Password.
        password: String,
        /// Seed of the initiator's RNG (client challenge).
        rng_seed: [u8; 32],
        /// FILETIME the NTLM exchange uses as "now".
        now_filetime: u64,
        /// Server name for NTLM.
        server: String,
    },
    /// `tree_connect`.
    TreeConnect {
        /// Session.
        session: SessionId,
        /// Share name.
        share: String,
    },
    /// `tree_disconnect`.
    TreeDisconnect {
        /// Session.
        session: SessionId,
        /// Tree.
        tree: TreeId,
    },
    /// `logoff`.
    Logoff {
        /// Session.
        session: SessionId,
    },
    /// `request`.
    Request {
        /// Session.
        session: SessionId,
        /// Tree.
        tree: TreeId,
        /// The body.
        body: RequestBody,
    },
    /// `cancel`.
    Cancel {
        /// The request to cancel.
        id: RequestId,
    },
    /// `close_connection`.
    CloseConnection,
}

impl ClientCommand {
    /// Issues the command. `Ok(None)` for commands without a request id.
    pub fn apply(
        &self,
        conn: &mut Connection,
        now: Instant,
    ) -> Result<Option<RequestId>, SendError> {
        match self {
            ClientCommand::SessionSetup {
                user,
                domain,
                password,
                rng_seed,
                now_filetime,
                server,
            } => {
                let config = Arc::new(InitiatorConfig {
                    credentials: Credentials::from_password(user, domain, password),
                    workstation: "SIMCLIENT".into(),
                    ntlm_policy: Default::default(),
                });
                let initiator = SpnegoInitiator::new(
                    config,
                    server,
                    *now_filetime,
                    SeededRng::from_seed(*rng_seed),
                )?;
                conn.session_setup(now, Box::new(initiator)).map(Some)
            }
            ClientCommand::TreeConnect { session, share } => {
                conn.tree_connect(now, *session, share).map(Some)
            }
            ClientCommand::TreeDisconnect { session, tree } => {
                conn.tree_disconnect(now, *session, *tree).map(Some)
            }
            ClientCommand::Logoff { session } => conn.logoff(now, *session).map(Some),
            ClientCommand::Request {
                session,
                tree,
                body,
            } => conn.request(now, *session, *tree, body.clone()).map(Some),
            ClientCommand::Cancel { id } => conn.cancel(now, *id).map(|()| None),
            ClientCommand::CloseConnection => {
                conn.close_connection();
                Ok(None)
            }
        }
    }

    /// Issues the command, moving its body into the connection (no copy).
    pub fn apply_owned(
        self,
        conn: &mut Connection,
        now: Instant,
    ) -> Result<Option<RequestId>, SendError> {
        match self {
            ClientCommand::Request {
                session,
                tree,
                body,
            } => conn.request(now, session, tree, body).map(Some),
            other => other.apply(conn, now),
        }
    }

    /// A compact canonical key (the trace hashes it; the frames carry the detail).
    pub fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(32);
        match self {
            ClientCommand::Request {
                session,
                tree,
                body,
            } => {
                k.push(1);
                k.extend_from_slice(&body.command().0.to_le_bytes());
                k.extend_from_slice(&session.0.to_le_bytes());
                k.extend_from_slice(&tree.0.to_le_bytes());
            }
            other => {
                k.push(2);
                k.extend_from_slice(other.summary().as_bytes());
            }
        }
        k
    }

    /// A short canonical description (the trace hashes it; the frames carry the detail).
    pub fn summary(&self) -> String {
        match self {
            ClientCommand::SessionSetup { user, domain, .. } => {
                format!("session_setup {domain}\\{user}")
            }
            ClientCommand::TreeConnect { session, share } => {
                format!("tree_connect {session} {share}")
            }
            ClientCommand::TreeDisconnect { session, tree } => {
                format!("tree_disconnect {session} {tree}")
            }
            ClientCommand::Logoff { session } => format!("logoff {session}"),
            ClientCommand::Request {
                session,
                tree,
                body,
            } => format!("request {session} {tree} {}", body.command()),
            ClientCommand::Cancel { id } => format!("cancel {}", id.0),
            ClientCommand::CloseConnection => "close_connection".into(),
        }
    }
}
