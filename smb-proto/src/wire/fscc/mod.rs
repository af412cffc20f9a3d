//! MS-FSCC information classes (filled by the wire codec work)
