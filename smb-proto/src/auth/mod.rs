//! Authentication: SPNEGO (RFC 4178, MS-SPNG) wrapping NTLMv2 (MS-NLMP).
