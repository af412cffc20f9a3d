//! The wkssvc interface (MS-WKST) call clients make right after listing shares:
//! NetrWkstaGetInfo (opnum 0) at level 100.
//!
//! Owns: [`WkstaGetInfoRequest`] / [`WkstaGetInfoResponse`] with their NDR codecs (both
//! directions, for both roles) and [`WkssvcServer`], answering from a [`ShareSnapshot`].
//! Must not: know about fragments or binds (see [`super::pipe`]).

use bytes::Bytes;

use super::ndr::{NdrReader, NdrWriter};
use super::pdu::{FaultStatus, SyntaxId, uuid};
use super::pipe::RpcInterface;
use super::srvsvc::{ShareSnapshot, status};
use crate::wire::DecodeError;

/// wkssvc: 6bffd098-a112-3610-9833-46c3f87e345a version 1.0 (MS-WKST 1.9).
pub const SYNTAX: SyntaxId = SyntaxId::new(
    uuid(
        0x6bff_d098,
        0xa112,
        0x3610,
        [0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a],
    ),
    1,
    0,
);

/// NetrWkstaGetInfo's operation number (MS-WKST 3.2.4.1).
pub const NETR_WKSTA_GET_INFO: u16 = 0;

/// WKSTA_INFO_100 (MS-WKST 2.2.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WkstaInfo100 {
    /// wki100_platform_id (500: PLATFORM_ID_NT).
    pub platform_id: u32,
    /// wki100_computername.
    pub computer_name: String,
    /// wki100_langroup: the domain or workgroup.
    pub lan_group: String,
    /// wki100_ver_major.
    pub version_major: u32,
    /// wki100_ver_minor.
    pub version_minor: u32,
}

/// NetrWkstaGetInfo request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WkstaGetInfoRequest {
    /// ServerName, or NULL.
    pub server_name: Option<String>,
    /// Level: 100 (others are answered ERROR_INVALID_LEVEL).
    pub level: u32,
}

impl WkstaGetInfoRequest {
    /// The NDR stub.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        match &self.server_name {
            Some(n) => {
                w.pointer();
                w.string(n);
            }
            None => w.null(),
        }
        w.u32(self.level);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let server_name = match r.pointer("ServerName")? {
            Some(_) => Some(r.string("ServerName")?),
            None => None,
        };
        let level = r.u32("Level")?;
        r.finish("NetrWkstaGetInfo request")?;
        Ok(WkstaGetInfoRequest { server_name, level })
    }
}

/// NetrWkstaGetInfo response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WkstaGetInfoResponse {
    /// The union discriminant.
    pub level: u32,
    /// Level 100 information, or `None` (NULL arm).
    pub info: Option<WkstaInfo100>,
    /// The return value.
    pub status: u32,
}

impl WkstaGetInfoResponse {
    /// The NDR stub. `info` is sent only at level 100 (NULL otherwise).
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        w.u32(self.level);
        match &self.info {
            Some(i) if self.level == 100 => {
                w.pointer();
                w.u32(i.platform_id);
                w.pointer();
                w.pointer();
                w.u32(i.version_major);
                w.u32(i.version_minor);
                w.string(&i.computer_name);
                w.string(&i.lan_group);
            }
            _ => w.null(),
        }
        w.u32(self.status);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let level = r.u32("WKSTA_INFO union discriminant")?;
        let info = match r.pointer("WKSTA_INFO")? {
            None => None,
            Some(_) if level != 100 => {
                return Err(DecodeError::InvalidValue {
                    field: "WKSTA_INFO union discriminant",
                    value: level.into(),
                });
            }
            Some(_) => {
                let mut i = WkstaInfo100 {
                    platform_id: r.u32("WKSTA_INFO_100.platform_id")?,
                    ..Default::default()
                };
                let name = r.pointer("WKSTA_INFO_100.computername")?;
                let group = r.pointer("WKSTA_INFO_100.langroup")?;
                i.version_major = r.u32("WKSTA_INFO_100.ver_major")?;
                i.version_minor = r.u32("WKSTA_INFO_100.ver_minor")?;
                if name.is_some() {
                    i.computer_name = r.string("WKSTA_INFO_100.computername")?;
                }
                if group.is_some() {
                    i.lan_group = r.string("WKSTA_INFO_100.langroup")?;
                }
                Some(i)
            }
        };
        let status = r.u32("NetrWkstaGetInfo return value")?;
        r.finish("NetrWkstaGetInfo response")?;
        Ok(WkstaGetInfoResponse {
            level,
            info,
            status,
        })
    }
}

/// The server side of wkssvc.
#[derive(Debug, Clone)]
pub struct WkssvcServer {
    snapshot: ShareSnapshot,
}

impl WkssvcServer {
    /// A server answering from `snapshot` (its server name, version and domain).
    pub fn new(snapshot: ShareSnapshot) -> Self {
        WkssvcServer { snapshot }
    }

    /// Answers NetrWkstaGetInfo.
    pub fn wksta_get_info(&self, q: &WkstaGetInfoRequest) -> WkstaGetInfoResponse {
        if q.level != 100 {
            return WkstaGetInfoResponse {
                level: q.level,
                info: None,
                status: status::INVALID_LEVEL,
            };
        }
        let s = &self.snapshot.server;
        WkstaGetInfoResponse {
            level: 100,
            info: Some(WkstaInfo100 {
                platform_id: s.platform_id,
                computer_name: s.name.clone(),
                lan_group: self.snapshot.domain.clone(),
                version_major: s.version_major,
                version_minor: s.version_minor,
            }),
            status: status::SUCCESS,
        }
    }
}

impl RpcInterface for WkssvcServer {
    fn syntax(&self) -> SyntaxId {
        SYNTAX
    }

    fn call(&mut self, op: u16, stub: &Bytes) -> Result<Bytes, FaultStatus> {
        match op {
            NETR_WKSTA_GET_INFO => {
                let q =
                    WkstaGetInfoRequest::decode(stub).map_err(|_| FaultStatus::BAD_STUB_DATA)?;
                Ok(self.wksta_get_info(&q).encode())
            }
            _ => Err(FaultStatus::NCA_S_OP_RNG_ERROR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(
            server_name in proptest::option::of("\\PC{0,12}"),
            level in any::<u32>(),
            info in proptest::option::of((any::<u32>(), "\\PC{0,12}", "\\PC{0,12}", any::<(u32, u32)>())),
            status in any::<u32>(),
        ) {
            let q = WkstaGetInfoRequest { server_name, level };
            prop_assert_eq!(WkstaGetInfoRequest::decode(&q.encode()).unwrap(), q);
            let r = WkstaGetInfoResponse {
                level: 100,
                info: info.map(|(platform_id, computer_name, lan_group, (version_major, version_minor))| WkstaInfo100 {
                    platform_id, computer_name, lan_group, version_major, version_minor,
                }),
                status,
            };
            prop_assert_eq!(WkstaGetInfoResponse::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            let b = Bytes::from(data);
            let _ = WkstaGetInfoRequest::decode(&b);
            let _ = WkstaGetInfoResponse::decode(&b);
        }
    }

    #[test]
    fn answers_level_100_only() {
        let mut snap = ShareSnapshot::default();
        snap.server.name = "HOST".into();
        snap.domain = "WORKGROUP".into();
        let mut s = WkssvcServer::new(snap);
        let out = s
            .call(
                NETR_WKSTA_GET_INFO,
                &WkstaGetInfoRequest {
                    server_name: None,
                    level: 100,
                }
                .encode(),
            )
            .unwrap();
        let r = WkstaGetInfoResponse::decode(&out).unwrap();
        let i = r.info.unwrap();
        assert_eq!(
            (i.computer_name.as_str(), i.lan_group.as_str()),
            ("HOST", "WORKGROUP")
        );
        let r = s.wksta_get_info(&WkstaGetInfoRequest {
            server_name: None,
            level: 102,
        });
        assert_eq!(r.status, status::INVALID_LEVEL);
        assert_eq!(
            s.call(5, &Bytes::new()),
            Err(FaultStatus::NCA_S_OP_RNG_ERROR)
        );
    }
}
