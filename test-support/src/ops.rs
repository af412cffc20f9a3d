//! The server's ops on the in-memory backend, for harnesses that drive a [`Server`] by hand
//! (without [`smb_proto::loopback::Loopback`]).

use std::time::Instant;

use smb_proto::server::memfs::MemFs;
use smb_proto::server::{OpRequest, Server};

/// Gives `req` to `fs` and completes at `server` whatever `fs` has finished.
pub fn serve(server: &mut Server, fs: &mut MemFs, now: Instant, req: OpRequest) {
    let id = req.id;
    if let Some(r) = fs.handle(req) {
        server.complete(id, now, r);
    }
    while let Some((id, r)) = fs.poll_ready() {
        server.complete(id, now, r);
    }
}
