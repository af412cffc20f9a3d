//! NTLM as a SPNEGO mechanism: adapters from [`NtlmClient`] / [`NtlmServer`] to the
//! [`InitiatorMech`] / [`AcceptorMech`] traits.
//!
//! Owns: sequencing the two NTLM legs and the NTLM GSS_GetMIC/VerifyMIC for the mechListMIC
//! (sequence number 0, fresh sealing handle, MS-NLMP 3.4.4.2 and MS-SPNG 3.1.5.1).
//! Must not: know SPNEGO's token format.

use std::sync::Arc;

use bytes::Bytes;

use super::crypto::{SessionKeys, ct_eq};
use super::{NtlmClient, NtlmServer, ServerConfig};
use crate::auth::mech::{AcceptorMech, InitiatorMech, MechStep};
use crate::auth::spnego::{Oid, oid};
use crate::auth::{AuthError, Identity, IdentityKind, SessionKey};

/// The NTLMSSP OID.
pub fn ntlm_oid() -> Oid {
    Oid(oid::NTLMSSP.to_vec())
}

/// NTLM on the client side of SPNEGO.
#[derive(Debug)]
pub struct NtlmInitiatorMech {
    client: NtlmClient,
    keys: Option<SessionKeys>,
}

impl NtlmInitiatorMech {
    /// Wraps a fresh NTLM client.
    pub fn new(client: NtlmClient) -> Self {
        Self { client, keys: None }
    }
}

impl InitiatorMech for NtlmInitiatorMech {
    fn oid(&self) -> Oid {
        ntlm_oid()
    }

    fn step(&mut self, peer_token: Option<&[u8]>) -> Result<MechStep, AuthError> {
        match peer_token {
            None => Ok(MechStep {
                token: Some(self.client.negotiate()?),
                complete: false,
            }),
            Some(challenge) => {
                let (authenticate, keys) = self.client.authenticate(challenge)?;
                self.keys = Some(keys);
                Ok(MechStep {
                    token: Some(authenticate),
                    complete: true,
                })
            }
        }
    }

    fn session_key(&self) -> Option<SessionKey> {
        self.keys.as_ref().map(|k| SessionKey(k.exported))
    }

    fn get_mic(&self, data: &[u8]) -> Option<Vec<u8>> {
        self.keys.as_ref().map(|k| k.first_mac(true, data).to_vec())
    }

    fn verify_mic(&self, data: &[u8], mic: &[u8]) -> bool {
        self.keys
            .as_ref()
            .is_some_and(|k| ct_eq(&k.first_mac(false, data), mic))
    }
}

/// NTLM on the server side of SPNEGO.
#[derive(Debug)]
pub struct NtlmAcceptorMech {
    config: Arc<ServerConfig>,
    server: NtlmServer,
    sent_challenge: bool,
    result: Option<(SessionKeys, Identity)>,
}

impl NtlmAcceptorMech {
    /// Wraps a fresh NTLM server.
    pub fn new(config: Arc<ServerConfig>, server: NtlmServer) -> Self {
        Self {
            config,
            server,
            sent_challenge: false,
            result: None,
        }
    }

    /// The keys, only for a real user (guest and anonymous have no integrity).
    fn user_keys(&self) -> Option<&SessionKeys> {
        self.result
            .as_ref()
            .filter(|(_, id)| id.kind == IdentityKind::User)
            .map(|(k, _)| k)
    }
}

impl AcceptorMech for NtlmAcceptorMech {
    fn oid(&self) -> Oid {
        ntlm_oid()
    }

    fn step(&mut self, peer_token: &[u8]) -> Result<MechStep, AuthError> {
        if !self.sent_challenge {
            self.sent_challenge = true;
            let challenge: Bytes = self.server.challenge(&self.config, peer_token)?;
            return Ok(MechStep {
                token: Some(challenge),
                complete: false,
            });
        }
        self.result = Some(self.server.authenticate(&self.config, peer_token)?);
        Ok(MechStep {
            token: None,
            complete: true,
        })
    }

    fn session_key(&self) -> Option<SessionKey> {
        self.result.as_ref().map(|(k, _)| SessionKey(k.exported))
    }

    fn identity(&self) -> Option<Identity> {
        self.result.as_ref().map(|(_, id)| id.clone())
    }

    fn get_mic(&self, data: &[u8]) -> Option<Vec<u8>> {
        self.user_keys().map(|k| k.first_mac(false, data).to_vec())
    }

    fn verify_mic(&self, data: &[u8], mic: &[u8]) -> bool {
        self.user_keys()
            .is_some_and(|k| ct_eq(&k.first_mac(true, data), mic))
    }
}
