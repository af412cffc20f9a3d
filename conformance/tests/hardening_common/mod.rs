//! The hardening suite's conventions over `test_support`'s [`Harness`] (our client and our
//! server with `server::memfs` in process, on a virtual clock, a hook that sees every client
//! frame, raw frames the client would never produce): a client that requires signing, and a
//! CREATE (OPEN_IF) that shares read, write and delete but asks no DELETE access.
//! Must not: touch the network or the real clock (every deadline is virtual).
#![allow(dead_code, unused_imports)] // each test file uses a different part

use std::time::Instant;

use smb_proto::client::{ClientConfig, SigningPolicy};
use smb_proto::wire::Dialect;
use smb_proto::wire::create::{CreateOptions, CreateRequest, ShareAccess};
use smb_proto::wire::fscc::attributes::AccessMask;
use smb_proto::wire::message::RequestBody;

pub use test_support::config::server_config;
pub use test_support::frames::{echo_compound, echo_message, frame};
pub use test_support::requests::close;
pub use test_support::{Harness, SetupFailure};

/// `test_support`'s client, offering `min` to `max`, that requires signing.
pub fn client_config(t0: Instant, min: Dialect, max: Dialect) -> ClientConfig {
    ClientConfig {
        signing: SigningPolicy::Required,
        ..test_support::config::client_config(t0, min, max)
    }
}

/// A CREATE (OPEN_IF) of a file (read and write) or a directory (read data and attributes),
/// sharing read, write and delete.
pub fn create(name: &str, directory: bool) -> RequestBody {
    let request = test_support::requests::create(name);
    let request = if directory {
        CreateRequest {
            desired_access: AccessMask(
                AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_READ_ATTRIBUTES.0,
            ),
            create_options: CreateOptions::DIRECTORY_FILE,
            ..request
        }
    } else {
        request
    };
    CreateRequest {
        share_access: ShareAccess(
            ShareAccess::READ.0 | ShareAccess::WRITE.0 | ShareAccess::DELETE.0,
        ),
        ..request
    }
    .into()
}
