//! Which network addresses calls may connect to.
//!
//! The allow-list ([`crate::AllowList`]) judges the host a URL names; this
//! judges the address the connection is actually made to: an IP literal as
//! written, a name as DNS answers at connect time (so a name that resolves to
//! `127.0.0.1`, or re-resolves there after a first public answer, is refused
//! too), on every redirect hop.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::AllowList;

/// The addresses calls may connect to.
///
/// | class | examples | reachable when |
/// |-------|----------|----------------|
/// | local | loopback `127.0.0.0/8` `::1`, unspecified `0.0.0.0` `::`, link-local `169.254.0.0/16` (cloud metadata) `fe80::/10`, multicast, broadcast, reserved `240.0.0.0/4`, `0.0.0.0/8`, this machine's own interface addresses | `local` |
/// | private | `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, shared `100.64.0.0/10`, unique-local `fc00::/7` | `private` |
/// | public | everything else | always |
///
/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4
/// address they carry. Hosts matching `exempt` (host or `host:port`
/// patterns, like the allow-list's) are reachable wherever they are: the
/// Jira and Confluence sites an administrator configured.
///
/// [`Reach::default`] (and [`Reach::any`]) allows everything; servers that
/// run scripts use [`Reach::public`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// Local addresses (see the table) may be reached.
    pub local: bool,
    /// Private ranges may be reached.
    pub private: bool,
    /// Hosts reachable whatever their address.
    pub exempt: AllowList,
}

impl Default for Reach {
    fn default() -> Self {
        Reach::any()
    }
}

impl Reach {
    /// Every address.
    pub fn any() -> Self {
        Reach {
            local: true,
            private: true,
            exempt: AllowList::none(),
        }
    }

    /// Public addresses only.
    pub fn public() -> Self {
        Reach {
            local: false,
            private: false,
            exempt: AllowList::none(),
        }
    }

    /// This reach with the host and port of each of `urls` exempt: the
    /// product sites a run was configured with. Text that is not an
    /// absolute URL with a host exempts nothing.
    pub fn exempting<'a>(mut self, urls: impl IntoIterator<Item = &'a str>) -> Reach {
        for url in urls {
            let Ok(url) = Url::parse(url) else { continue };
            let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
                continue;
            };
            if let Ok(pattern) = format!("{host}:{port}").parse() {
                self.exempt.push(pattern);
            }
        }
        self
    }

    /// True when nothing is refused.
    pub fn allows_everything(&self) -> bool {
        self.local && self.private
    }

    /// True when a connection to `ip` may be made.
    pub fn permits(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            Class::Local => self.local,
            Class::Private => self.private,
            Class::Public => true,
        }
    }

    /// The rules for a call to `url`: everything when its host is exempt.
    pub(crate) fn for_url(&self, url: &Url) -> Reach {
        if self.allows_everything() || self.exempt.allows(url) {
            Reach::any()
        } else {
            self.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Local,
    Private,
    Public,
}

fn classify(ip: IpAddr) -> Class {
    let ip = ip.to_canonical();
    if own_addresses().contains(&ip) {
        return Class::Local;
    }
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, ..] = ip.octets();
    let local = ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || a >= 240;
    let private = ip.is_private() || (a == 100 && (64..128).contains(&b));
    if local {
        Class::Local
    } else if private {
        Class::Private
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let first = ip.segments()[0];
    let local =
        ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || (first & 0xffc0) == 0xfe80;
    let private = (first & 0xfe00) == 0xfc00;
    if local {
        Class::Local
    } else if private {
        Class::Private
    } else {
        Class::Public
    }
}

/// This machine's interface addresses, read once: a script must not reach
/// the server it runs in through the server's own public address either.
fn own_addresses() -> &'static [IpAddr] {
    static OWN: OnceLock<Vec<IpAddr>> = OnceLock::new();
    OWN.get_or_init(|| {
        if_addrs::get_if_addrs()
            .map(|interfaces| {
                interfaces
                    .into_iter()
                    .map(|interface| interface.ip().to_canonical())
                    .collect()
            })
            .unwrap_or_default()
    })
}

tokio::task_local! {
    /// The reach of the call whose connection is being made. The resolver
    /// runs inside the call's task, where this is set.
    static CURRENT: Arc<Reach>;
}

/// Runs `work` (one hop of a call) with `reach` as the rules the resolver
/// applies.
pub(crate) async fn within<T>(reach: Reach, work: impl Future<Output = T>) -> T {
    CURRENT.scope(Arc::new(reach), work).await
}

/// The connection is refused: the same text a closed port gives, so a
/// script cannot tell them apart (and cannot map what it may not reach).
#[derive(Debug, thiserror::Error)]
#[error("could not connect")]
pub(crate) struct Refused;

/// Resolves names with the system resolver and drops the addresses the
/// current call may not reach; with none left the connection is refused.
/// Outside a call nothing is resolved.
pub(crate) struct CheckedResolver;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = CURRENT.try_with(Arc::clone).ok();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let reach = reach.ok_or(Refused)?;
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Refused)?;
            let permitted: Vec<SocketAddr> = resolved
                .filter(|address| reach.permits(address.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(Refused.into());
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// The IP a URL names literally (`127.0.0.1`, `2130706433`, `0x7f.1`,
/// `[::1]`, all normalised by URL parsing), which no resolver sees.
pub(crate) fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_fall_into_their_class() {
        for local in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert_eq!(classify(ip(local)), Class::Local, "{local}");
        }
        for private in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "fc00::1",
            "::ffff:10.1.2.3",
        ] {
            assert_eq!(classify(ip(private)), Class::Private, "{private}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(classify(ip(public)), Class::Public, "{public}");
        }
    }

    #[test]
    fn public_reach_refuses_local_and_private_unless_allowed() {
        let public = Reach::public();
        assert!(!public.permits(ip("127.0.0.1")));
        assert!(!public.permits(ip("10.0.0.1")));
        assert!(public.permits(ip("8.8.8.8")));
        let private = Reach {
            private: true,
            ..Reach::public()
        };
        assert!(private.permits(ip("10.0.0.1")));
        assert!(!private.permits(ip("169.254.169.254")));
        assert!(Reach::default().permits(ip("127.0.0.1")));
    }

    #[test]
    fn exempt_hosts_reach_everything() {
        let reach = Reach {
            exempt: AllowList::new(["127.0.0.1:8080", "localhost"]).unwrap(),
            ..Reach::public()
        };
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(
            reach
                .for_url(&url("http://127.0.0.1:8080/"))
                .allows_everything()
        );
        assert!(
            reach
                .for_url(&url("http://localhost:9/"))
                .allows_everything()
        );
        assert!(
            !reach
                .for_url(&url("http://127.0.0.1:8081/"))
                .allows_everything()
        );
        let sites =
            Reach::public().exempting(["http://127.0.0.1:9000/jira", "not a url", "https://[::1]"]);
        assert!(
            sites
                .for_url(&url("http://127.0.0.1:9000/x"))
                .allows_everything()
        );
        assert!(
            sites
                .for_url(&url("https://[::1]:443/"))
                .allows_everything()
        );
        assert!(
            !sites
                .for_url(&url("http://127.0.0.1:9001/"))
                .allows_everything()
        );
    }
}
