//! Protocol numbers and identifiers shared by every command.
//!
//! Owns: the [`open_enum!`] macro (open newtypes with named constants: an unknown value passes
//! through decode and re-encode unchanged, and `Display` shows the symbolic name when there is
//! one), [`Command`], [`Dialect`], and the id newtypes ([`MessageId`], [`SessionId`], [`TreeId`],
//! [`AsyncId`], [`FileId`]).
//! Must not: hold message layouts.

/// Declares an open newtype over an integer with named constants.
///
/// Unknown values are representable, so decoding never fails on a number the peer may
/// legitimately send in a future revision. `Display` prints the constant's name, or the value
/// in hex when it has none.
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $cname:ident = $cval:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        $vis struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: $name = $name($cval); )*

            /// The symbolic name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$cname => Some(stringify!($cname)), )*
                    _ => None,
                }
            }

            /// Every named value, in declaration order (for tests and generators).
            pub const KNOWN: &'static [$name] = &[$( $name::$cname ),*];
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(self, f)
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v.0
            }
        }
    };
}

open_enum! {
    /// SMB2 command codes (MS-SMB2 2.2.1.2).
    pub struct Command(u16) {
        NEGOTIATE = 0x0000,
        SESSION_SETUP = 0x0001,
        LOGOFF = 0x0002,
        TREE_CONNECT = 0x0003,
        TREE_DISCONNECT = 0x0004,
        CREATE = 0x0005,
        CLOSE = 0x0006,
        FLUSH = 0x0007,
        READ = 0x0008,
        WRITE = 0x0009,
        LOCK = 0x000A,
        IOCTL = 0x000B,
        CANCEL = 0x000C,
        ECHO = 0x000D,
        QUERY_DIRECTORY = 0x000E,
        CHANGE_NOTIFY = 0x000F,
        QUERY_INFO = 0x0010,
        SET_INFO = 0x0011,
        OPLOCK_BREAK = 0x0012,
    }
}

open_enum! {
    /// SMB2 dialect revisions (MS-SMB2 2.2.3). `SMB2_WILDCARD` (0x02FF) answers an SMB1
    /// multi-protocol negotiate.
    pub struct Dialect(u16) {
        SMB2_0_2 = 0x0202,
        SMB2_1 = 0x0210,
        SMB3_0 = 0x0300,
        SMB3_0_2 = 0x0302,
        SMB3_1_1 = 0x0311,
        SMB2_WILDCARD = 0x02FF,
    }
}

impl Dialect {
    /// The five real dialects, oldest first.
    pub const ALL: [Dialect; 5] = [
        Dialect::SMB2_0_2,
        Dialect::SMB2_1,
        Dialect::SMB3_0,
        Dialect::SMB3_0_2,
        Dialect::SMB3_1_1,
    ];

    /// Whether this is an SMB 3.x dialect (AES signing, encryption).
    pub fn is_smb3(self) -> bool {
        self.0 >= 0x0300 && self != Dialect::SMB2_WILDCARD
    }
}

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident($repr:ty)) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
        pub struct $name(pub $repr);

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }
    };
}

id_newtype!(
    /// The MessageId of a request and its response(s) (MS-SMB2 2.2.1).
    MessageId(u64)
);
id_newtype!(
    /// A session's id, chosen by the server.
    SessionId(u64)
);
id_newtype!(
    /// A tree connect's id, chosen by the server (sync header only).
    TreeId(u32)
);
id_newtype!(
    /// The id of an asynchronously processed request (async header only).
    AsyncId(u64)
);

impl MessageId {
    /// The MessageId of oplock and lease break notifications (MS-SMB2 3.3.4.6).
    pub const UNSOLICITED: MessageId = MessageId(u64::MAX);
}

/// An open's FileId: persistent and volatile halves (MS-SMB2 2.2.14.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct FileId {
    /// The half that survives a durable reconnect.
    pub persistent: u64,
    /// The half that identifies the open on this server instance.
    pub volatile: u64,
}

impl FileId {
    /// All ones: "the FileId of the previous CREATE" in a related compound (MS-SMB2 3.2.4.1.4).
    pub const RELATED: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };

    /// Reads the 16-byte wire form.
    pub fn read(
        r: &mut super::cursor::Reader<'_>,
        field: &'static str,
    ) -> Result<Self, super::DecodeError> {
        Ok(FileId {
            persistent: r.u64(field)?,
            volatile: r.u64(field)?,
        })
    }

    /// Appends the 16-byte wire form.
    pub fn write(&self, w: &mut super::cursor::Writer<'_>) {
        w.u64(self.persistent);
        w.u64(self.volatile);
    }
}

/// A 16-byte GUID in its wire byte order (kept as bytes: we never interpret it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Guid(pub [u8; 16]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enum_names_known_and_passes_unknown() {
        assert_eq!(Command::SET_INFO.to_string(), "SET_INFO");
        assert_eq!(Command(0x99).to_string(), "Command(0x99)");
        assert_eq!(Command::from(0x0005), Command::CREATE);
        assert!(Dialect::SMB3_0_2.is_smb3());
        assert!(!Dialect::SMB2_WILDCARD.is_smb3());
        assert_eq!(Command::KNOWN.len(), 19);
    }
}
