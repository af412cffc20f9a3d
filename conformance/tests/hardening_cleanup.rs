//! Issue 10, hostile clients and leaked state: a client that drops its connection while the
//! backend is still working on its CREATE must not leave an open behind in the backend (it
//! would hold share modes and delete-pending files forever). Found by the soak
//! (`conformance/examples/soak.rs`): files stayed DELETE_PENDING after injected disconnects.

mod hardening_common;

use std::time::Instant;

use hardening_common::{Harness, create};
use smb_proto::io::Input;
use smb_proto::wire::Dialect;

#[test]
fn create_completed_after_the_connection_died_is_closed_in_the_backend() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    h.hold_ops = true;
    h.ignore_cancel = true;
    for i in 0..3 {
        h.0.client
            .request(h.0.now, s, t, create(&format!("orphan{i}"), false))
            .expect("send");
    }
    h.pump();
    assert_eq!(h.held.len(), 3, "each CREATE reached the backend");
    let held_before = h.held.len();
    // The transport dies while the backend works on the CREATE.
    h.0.server
        .handle_input(h.0.ch, Input::Closed { now: h.0.now });
    h.pump();
    assert_eq!(h.0.server.connection_count(), 0);
    // The backend finishes anyway (the cancel came too late), creating the open.
    for req in std::mem::take(&mut h.held) {
        let id = req.id;
        let r = h.fs.handle(req).expect("memfs answers at once");
        assert!(r.is_ok());
        h.0.server.complete(id, h.0.now, r);
    }
    h.hold_ops = false;
    h.pump();
    assert!(held_before > 0);
    assert_eq!(h.fs.open_count(), 0, "the orphaned open was closed");
    assert_eq!(h.0.server.ops_in_flight(), 0);
}
