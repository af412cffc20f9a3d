//! Requests on an IPC$ tree: the engine's hook into the pipe table ([`super::super::pipes`]).
//!
//! Owns: turning a CREATE, READ, WRITE, IOCTL, QUERY_INFO, FLUSH or CLOSE on a pipe share
//! into a response at once (no backend op), under the connection's open limit.
//! Must not: run DCE/RPC or keep pipe state (the pipe table does).

use super::*;
use crate::server::pipes::{self, PipeCaller, PipeLimits};

impl Server {
    /// A request on an IPC$ tree: answered at once by the pipe table, no backend op.
    pub(super) fn on_pipe(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        body: RequestBody,
        related: Related,
    ) -> Result<Option<Resp>, Refuse> {
        let caller = PipeCaller {
            ch,
            session: ctx.session,
            tree: ctx.tree,
            related: related.file_id,
        };
        let (status, payload) = match body {
            RequestBody::Create(req) => {
                let files = self.open_count(ch);
                if files + self.pipes.count(ch) >= self.config.max_opens {
                    return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
                }
                let id = self.next_open;
                self.next_open += 1;
                let config = self.config.clone();
                self.pipes
                    .create(&caller, id, &req, || pipes::snapshot(&config))?
            }
            body => {
                let d = self.dialect(ch).unwrap_or(Dialect::SMB2_0_2);
                let (max_transact, max_read, max_write) = negotiate::limits(&self.config, d);
                let limits = PipeLimits {
                    max_read,
                    max_write,
                    max_transact,
                };
                self.pipes.command(&caller, body, limits)?
            }
        };
        Ok(Some(
            self.respond(ch, header, status, payload, None, ctx.sign),
        ))
    }
}
