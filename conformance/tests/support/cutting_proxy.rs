//! A TCP proxy on 127.0.0.1 in front of a server that forwards bytes unchanged and cuts a
//! chosen connection (by the order it was accepted in) once a given number of bytes has
//! crossed it: a channel whose link breaks in the middle of a transfer, for the failover
//! tests. Plain threads and blocking sockets; nothing is parsed.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Rules {
    /// Accepted connection number -> bytes (both ways together) after which it is cut.
    cut_after: BTreeMap<usize, u64>,
    /// Connections cut so far.
    cut: BTreeSet<usize>,
}

pub struct CuttingProxy {
    addr: SocketAddr,
    rules: Arc<Mutex<Rules>>,
    stop: Arc<AtomicBool>,
}

impl CuttingProxy {
    /// Listens on 127.0.0.1 (an ephemeral port) and forwards every connection to `server`.
    pub fn start(server: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let rules = Arc::new(Mutex::new(Rules::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, st) = (rules.clone(), stop.clone());
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(upstream) = TcpStream::connect(server) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                forward(n, client, upstream, r.clone());
            }
        });
        CuttingProxy { addr, rules, stop }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts connection `n` (0: the first accepted) once `bytes` have crossed it, both
    /// directions counted together. Set before the connection carries that much.
    pub fn cut_after(&self, n: usize, bytes: u64) {
        self.rules.lock().unwrap().cut_after.insert(n, bytes);
    }

    /// The connections cut so far, by number.
    pub fn cut(&self) -> Vec<usize> {
        self.rules.lock().unwrap().cut.iter().copied().collect()
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Pumps both directions of connection `n` on two threads, cutting both sockets once the
/// rule for `n` (if any) is met.
fn forward(n: usize, client: TcpStream, upstream: TcpStream, rules: Arc<Mutex<Rules>>) {
    let crossed = Arc::new(AtomicU64::new(0));
    let ends = [
        client.try_clone().expect("clone"),
        upstream.try_clone().expect("clone"),
    ];
    let ends = Arc::new(ends);
    for (mut from, mut to) in [
        (
            client.try_clone().expect("clone"),
            upstream.try_clone().expect("clone"),
        ),
        (upstream, client),
    ] {
        let (crossed, rules, ends) = (crossed.clone(), rules.clone(), ends.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let k = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => k,
                };
                if to.write_all(&buf[..k]).is_err() {
                    break;
                }
                let total = crossed.fetch_add(k as u64, Ordering::Relaxed) + k as u64;
                let mut r = rules.lock().unwrap();
                if r.cut_after.get(&n).is_some_and(|limit| total >= *limit) {
                    r.cut.insert(n);
                    for end in ends.iter() {
                        let _ = end.shutdown(Shutdown::Both);
                    }
                    break;
                }
            }
            // One direction ended: end the other too, as a real link would.
            for end in ends.iter() {
                let _ = end.shutdown(Shutdown::Both);
            }
        });
    }
}
