//! Byte offsets of the header fields that signing and encryption touch.
//!
//! Owns the constants for the 64-byte SMB2 header (MS-SMB2 2.2.1) and the 52-byte TRANSFORM
//! header (MS-SMB2 2.2.41). It must not grow into a header codec: `smb-proto` owns that.

use core::ops::Range;

/// Length of the SMB2 header.
pub const SMB2_HEADER_LEN: usize = 64;
/// ProtocolId of an SMB2 header: 0xFE 'S' 'M' 'B'.
pub const SMB2_PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// The Command field (le16).
pub const COMMAND: Range<usize> = 12..14;
/// The Flags field (le32).
pub const FLAGS: Range<usize> = 16..20;
/// The MessageId field (le64).
pub const MESSAGE_ID: Range<usize> = 24..32;
/// The 16-byte Signature field.
pub const SIGNATURE: Range<usize> = 48..64;
/// SMB2_FLAGS_SERVER_TO_REDIR: the message is a response.
pub const FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
/// SMB2_FLAGS_SIGNED.
pub const FLAGS_SIGNED: u32 = 0x0000_0008;
/// The command code of SMB2 CANCEL.
pub const COMMAND_CANCEL: u16 = 0x000C;

/// Length of the TRANSFORM header.
pub const TRANSFORM_HEADER_LEN: usize = 52;
/// ProtocolId of a TRANSFORM header: 0xFD 'S' 'M' 'B'.
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
/// The 16-byte Signature field that carries the AEAD tag.
pub const T_SIGNATURE: Range<usize> = 4..20;
/// The 16-byte Nonce field (GCM uses the first 12 bytes, CCM the first 11).
pub const T_NONCE: Range<usize> = 20..36;
/// OriginalMessageSize (le32).
pub const T_ORIGINAL_SIZE: Range<usize> = 36..40;
/// Reserved (le16).
pub const T_RESERVED: Range<usize> = 40..42;
/// Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2) (le16).
pub const T_FLAGS: Range<usize> = 42..44;
/// SessionId (le64).
pub const T_SESSION_ID: Range<usize> = 44..52;
/// The additional authenticated data: Nonce through SessionId.
pub const T_AAD: Range<usize> = 20..52;
/// Flags value meaning "encrypted" (equal to EncryptionAlgorithm AES-128-CCM in 3.0).
pub const TRANSFORM_FLAG_ENCRYPTED: u16 = 0x0001;
