pub mod channels;
pub mod cutting_proxy;
pub mod our_server;
pub mod requests;
