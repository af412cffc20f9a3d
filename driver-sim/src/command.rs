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
    /// `compound`: several file commands in one chain (related: later ones may use
    /// `FileId::RELATED`).
    Compound {
        /// Session.
        session: SessionId,
        /// Tree.
        tree: TreeId,
        /// The bodies, in chain order.
        bodies: Vec<RequestBody>,
        /// Whether the chain is related.
        related: bool,
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
    /// Issues the command: the request ids it created (none for `cancel` and
    /// `close_connection`, one per body for `compound`, else one).
    pub fn apply(&self, conn: &mut Connection, now: Instant) -> Result<Vec<RequestId>, SendError> {
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
                conn.session_setup(now, Box::new(initiator)).map(one)
            }
            ClientCommand::TreeConnect { session, share } => {
                conn.tree_connect(now, *session, share).map(one)
            }
            ClientCommand::TreeDisconnect { session, tree } => {
                conn.tree_disconnect(now, *session, *tree).map(one)
            }
            ClientCommand::Logoff { session } => conn.logoff(now, *session).map(one),
            ClientCommand::Request {
                session,
                tree,
                body,
            } => conn.request(now, *session, *tree, body.clone()).map(one),
            ClientCommand::Compound {
                session,
                tree,
                bodies,
                related,
            } => conn.compound(now, *session, *tree, bodies.clone(), *related),
            ClientCommand::Cancel { id } => conn.cancel(now, *id).map(|()| Vec::new()),
            ClientCommand::CloseConnection => {
                conn.close_connection();
                Ok(Vec::new())
            }
        }
    }

    /// Issues the command, moving its body into the connection (no copy).
    pub fn apply_owned(
        self,
        conn: &mut Connection,
        now: Instant,
    ) -> Result<Vec<RequestId>, SendError> {
        match self {
            ClientCommand::Request {
                session,
                tree,
                body,
            } => conn.request(now, session, tree, body).map(one),
            ClientCommand::Compound {
                session,
                tree,
                bodies,
                related,
            } => conn.compound(now, session, tree, bodies, related),
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
            ClientCommand::Compound {
                session,
                tree,
                bodies,
                related,
            } => {
                k.push(3);
                k.push(u8::from(*related));
                for body in bodies {
                    k.extend_from_slice(&body.command().0.to_le_bytes());
                }
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
            ClientCommand::Compound {
                session,
                tree,
                bodies,
                related,
            } => {
                let commands: Vec<String> =
                    bodies.iter().map(|b| b.command().to_string()).collect();
                let kind = if *related { "related" } else { "unrelated" };
                format!("compound {kind} {session} {tree} {}", commands.join("+"))
            }
            ClientCommand::Cancel { id } => format!("cancel {}", id.0),
            ClientCommand::CloseConnection => "close_connection".into(),
        }
    }
}

fn one(id: RequestId) -> Vec<RequestId> {
    vec![id]
}

/// The trace's text for a command's result: `ok`, `ok ID`, `ok ID,ID,…` or `err …` (the
/// simulator and the replayer must agree on it).
pub fn result_summary(result: &Result<Vec<RequestId>, SendError>) -> String {
    match result {
        Ok(ids) if ids.is_empty() => "ok".to_owned(),
        Ok(ids) => {
            let ids: Vec<String> = ids.iter().map(|id| id.0.to_string()).collect();
            format!("ok {}", ids.join(","))
        }
        Err(e) => format!("err {e}"),
    }
}
