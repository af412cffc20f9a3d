//! TLS key logging, so a packet capture of SMB over QUIC can be decrypted (tshark/Wireshark read
//! the NSS key log format: `LABEL <client_random hex> <secret hex>` per line). Only used when the
//! operator asks for it; never enable it in production. For the `SSLKEYLOGFILE` environment
//! variable convention, pass `rustls::KeyLogFile::new()` instead.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::cert_info::hex_lower;

/// Appends TLS secrets to a file in the NSS key log format.
pub struct KeyLogToPath {
    file: Mutex<std::fs::File>,
}

impl fmt::Debug for KeyLogToPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyLogToPath")
    }
}

impl KeyLogToPath {
    /// Opens (creating, appending) the key log file.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }
}

impl rustls::KeyLog for KeyLogToPath {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!(
            "{label} {} {}\n",
            hex_lower(client_random),
            hex_lower(secret)
        );
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "TLS key log write failed");
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}
