pub mod our_server;
