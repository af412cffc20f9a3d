//! The SMB2/SMB3 wire codec (MS-SMB2 section 2).
