//! The host's network interfaces as FSCTL_QUERY_NETWORK_INTERFACE_INFO lists them (MS-SMB2
//! 2.2.32.5), for a server that listens on given addresses: what a client needs to open more
//! channels to it (multichannel, MS-SMB2 3.2.4.20.10 / 3.3.5.15.11).
//!
//! Owns: reading the host's addresses (`if-addrs`) and link speeds (`/sys/class/net/*/speed`),
//! and [`reachable`], the pure choice of the addresses a listener can be reached on.
//! Must not: decide whether the FSCTL is answered (the core does, from
//! `ServerConfig::network_interfaces`), or claim capabilities (RSS, RDMA) it cannot know.

use std::net::{IpAddr, SocketAddr};

use smb_proto::wire::fsctl::{InterfaceCapability, NetworkInterfaceInfo, SockAddr};

/// The link speed listed for an interface whose speed the host does not report (loopback,
/// most virtual NICs): 1 Gb/s. Clients compare the speeds of a server's interfaces to weigh
/// their channels, so only the order matters to them.
pub const UNKNOWN_LINK_SPEED: u64 = 1_000_000_000;

/// One address of one of the host's interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    /// The interface's index (IfIndex).
    pub index: u32,
    /// The address.
    pub ip: IpAddr,
    /// Whether the interface is the loopback one.
    pub loopback: bool,
    /// The link speed in bits per second, when the host reports it.
    pub link_speed: Option<u64>,
}

/// The interfaces through which the listeners on `listen` can be reached, one entry per
/// interface address, ordered by index then address:
/// - a listener on one address: that address (loopback included, for a server bound to it);
/// - a listener on the unspecified address of a family (0.0.0.0 or ::): every non-loopback
///   address of that family.
///
/// IPv6 link-local addresses are left out (they need a scope a remote client cannot use).
pub fn reachable(listen: &[SocketAddr], host: &[HostAddress]) -> Vec<NetworkInterfaceInfo> {
    let wanted = |a: &HostAddress| {
        if is_link_local_v6(a.ip) {
            return false;
        }
        listen.iter().any(|l| {
            let ip = l.ip();
            if ip.is_unspecified() {
                !a.loopback && a.ip.is_ipv4() == ip.is_ipv4()
            } else {
                a.ip == ip
            }
        })
    };
    let mut chosen: Vec<&HostAddress> = host.iter().filter(|a| wanted(a)).collect();
    chosen.sort_by_key(|a| (a.index, a.ip));
    chosen.dedup_by_key(|a| (a.index, a.ip));
    chosen
        .into_iter()
        .map(|a| NetworkInterfaceInfo {
            if_index: a.index,
            capability: InterfaceCapability::default(),
            link_speed: a.link_speed.unwrap_or(UNKNOWN_LINK_SPEED),
            address: match a.ip {
                // Port: zero, as Windows and Samba send it.
                IpAddr::V4(addr) => SockAddr::V4 { addr, port: 0 },
                IpAddr::V6(addr) => SockAddr::V6 {
                    addr,
                    port: 0,
                    flow_info: 0,
                    scope_id: 0,
                },
            },
        })
        .collect()
}

/// [`reachable`] over the host's current addresses.
pub fn host_interfaces(listen: &[SocketAddr]) -> std::io::Result<Vec<NetworkInterfaceInfo>> {
    let host: Vec<HostAddress> = if_addrs::get_if_addrs()?
        .into_iter()
        .filter_map(|i| {
            Some(HostAddress {
                // An address without an interface index cannot be listed (IfIndex is required).
                index: i.index?,
                ip: i.ip(),
                loopback: i.is_loopback(),
                link_speed: link_speed(&i.name),
            })
        })
        .collect();
    Ok(reachable(listen, &host))
}

/// The link speed Linux reports for interface `name` (`/sys/class/net/NAME/speed`, in Mb/s;
/// absent or -1 when unknown), in bits per second.
fn link_speed(name: &str) -> Option<u64> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/speed")).ok()?;
    let mbps: u64 = text.trim().parse().ok().filter(|m| *m > 0)?;
    mbps.checked_mul(1_000_000)
}

fn is_link_local_v6(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn addr(index: u32, ip: &str, loopback: bool, speed: Option<u64>) -> HostAddress {
        HostAddress {
            index,
            ip: ip.parse().expect("ip"),
            loopback,
            link_speed: speed,
        }
    }

    fn host() -> Vec<HostAddress> {
        vec![
            addr(1, "127.0.0.1", true, None),
            addr(1, "::1", true, None),
            addr(3, "192.0.2.10", false, Some(10_000_000_000)),
            addr(2, "198.51.100.7", false, None),
            addr(2, "2001:db8::7", false, None),
            addr(2, "fe80::1", false, None),
        ]
    }

    fn ips(list: &[NetworkInterfaceInfo]) -> Vec<(u32, String, u64)> {
        list.iter()
            .map(|n| {
                let ip = match &n.address {
                    SockAddr::V4 { addr, port } => {
                        assert_eq!(*port, 0);
                        addr.to_string()
                    }
                    SockAddr::V6 { addr, .. } => addr.to_string(),
                    SockAddr::Other { .. } => panic!("unexpected family"),
                };
                assert_eq!(n.capability, InterfaceCapability::default());
                (n.if_index, ip, n.link_speed)
            })
            .collect()
    }

    #[test]
    fn a_wildcard_listener_lists_every_non_loopback_address_of_its_family() {
        let v4 = reachable(&[SocketAddr::from((Ipv4Addr::UNSPECIFIED, 445))], &host());
        assert_eq!(
            ips(&v4),
            vec![
                (2, "198.51.100.7".into(), UNKNOWN_LINK_SPEED),
                (3, "192.0.2.10".into(), 10_000_000_000),
            ]
        );
        let v6 = reachable(&[SocketAddr::from((Ipv6Addr::UNSPECIFIED, 445))], &host());
        assert_eq!(
            ips(&v6),
            vec![(2, "2001:db8::7".into(), UNKNOWN_LINK_SPEED)]
        );
    }

    #[test]
    fn a_bound_listener_lists_its_own_address_only() {
        let lo = reachable(&[SocketAddr::from(([127, 0, 0, 1], 4455))], &host());
        assert_eq!(ips(&lo), vec![(1, "127.0.0.1".into(), UNKNOWN_LINK_SPEED)]);
        let both = reachable(
            &[
                SocketAddr::from(([192, 0, 2, 10], 445)),
                SocketAddr::from(([192, 0, 2, 10], 8445)),
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 9445)),
            ],
            &host(),
        );
        assert_eq!(
            ips(&both),
            vec![
                (2, "198.51.100.7".into(), UNKNOWN_LINK_SPEED),
                (3, "192.0.2.10".into(), 10_000_000_000),
            ],
            "each address once, however many listeners reach it"
        );
        let nowhere = reachable(&[SocketAddr::from(([203, 0, 113, 1], 445))], &host());
        assert!(nowhere.is_empty());
    }

    #[test]
    fn link_local_v6_is_left_out_even_when_bound() {
        let ll = reachable(&["[fe80::1]:445".parse().expect("addr")], &host());
        assert!(ll.is_empty());
    }

    #[test]
    fn this_host_lists_loopback_for_a_loopback_listener() {
        let list =
            host_interfaces(&[SocketAddr::from(([127, 0, 0, 1], 445))]).expect("host addresses");
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(
            list[0].address,
            SockAddr::V4 {
                addr: Ipv4Addr::LOCALHOST,
                port: 0
            }
        );
        assert!(list[0].if_index > 0);
    }

    #[test]
    fn link_speed_refuses_names_that_leave_sys_class_net() {
        assert_eq!(link_speed("../../etc"), None);
        assert_eq!(link_speed(""), None);
    }
}
