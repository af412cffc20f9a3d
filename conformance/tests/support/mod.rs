pub mod channels;
pub mod our_server;
pub mod requests;
