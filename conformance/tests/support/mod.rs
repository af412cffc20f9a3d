pub mod our_server;
pub mod requests;
