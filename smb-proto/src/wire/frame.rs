//! (filled by the wire codec work)
