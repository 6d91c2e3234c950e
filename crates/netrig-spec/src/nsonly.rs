//! What a lab may touch on the host: sysctls and sysfs files that belong to
//! a network namespace. Topology files, scenario steps and the lab crate all
//! apply these rules, so nothing a file asks for changes (or reads) the host.

/// A per-namespace sysctl key: `net.` then dot-separated parts of A-Z, a-z,
/// 0-9, `_` and `-`. Keys under `net.` that are not per-namespace do not
/// exist in a node's namespace, so writing them there fails.
pub fn is_netns_sysctl(key: &str) -> bool {
    key.starts_with("net.")
        && key.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// Hint for a key [`is_netns_sysctl`] refuses.
pub const SYSCTL_RULE: &str = "only `net.*` keys are per-namespace; others would change the host";

/// Links in a network device's sysfs folder that lead out of it, to the
/// device's bus or driver (host-wide): not followed.
const LEAVES_THE_DEVICE: &[&str] = &[
    "device",
    "driver",
    "firmware_node",
    "of_node",
    "subsystem",
    "phydev",
    "phy80211",
];

/// Why a sysfs path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SysfsRefusal {
    #[error("empty, `.` or `..` components")]
    Malformed,
    #[error("{0}")]
    NotNetdev(&'static str),
}

/// A sysfs path (below /sys, without the leading `/sys/`) of a network
/// device of the node: `class/net/<iface>/<attribute...>`.
pub fn check_netdev_sysfs(path: &str) -> Result<(), SysfsRefusal> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(SysfsRefusal::Malformed);
    }
    match parts.as_slice() {
        ["class", "net", iface, rest @ ..] if !rest.is_empty() => {
            if iface.len() > crate::IFNAME_MAX {
                return Err(SysfsRefusal::NotNetdev("the interface name is too long"));
            }
            if rest.iter().any(|p| LEAVES_THE_DEVICE.contains(p)) {
                return Err(SysfsRefusal::NotNetdev(
                    "the path leaves the network device (device, driver, subsystem...)",
                ));
            }
            Ok(())
        }
        _ => Err(SysfsRefusal::NotNetdev(
            "only a network device's files, class/net/<iface>/<attribute>",
        )),
    }
}

/// Hint for a path [`check_netdev_sysfs`] refuses.
pub const SYSFS_RULE: &str =
    "a node's network device attribute, e.g. \"class/net/eth0/gro_flush_timeout\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_wide_keys_and_files_are_refused() {
        assert!(is_netns_sysctl("net.ipv4.fib_multipath_hash_policy"));
        assert!(is_netns_sysctl("net.ipv6.conf.eth-0.forwarding"));
        for k in [
            "kernel.printk_ratelimit_burst",
            "net",
            "net.",
            "net..x",
            "net.a/b",
            "vm.swappiness",
            "net.ipv4.x y",
        ] {
            assert!(!is_netns_sysctl(k), "{k}");
        }
        assert!(check_netdev_sysfs("class/net/eth0/gro_flush_timeout").is_ok());
        assert!(check_netdev_sysfs("class/net/eth0/queues/rx-0/rps_cpus").is_ok());
        for p in [
            "kernel/mm/transparent_hugepage/enabled",
            "class/net/eth0",
            "class/net/eth0/../../../kernel/mm/x",
            "class/net/eth0/device/remove",
            "class/net/eth0/subsystem/eth1/mtu",
            "class/net//x",
            "devices/virtual/net/eth0/mtu",
            "class/net/eth0/",
        ] {
            assert!(check_netdev_sysfs(p).is_err(), "{p}");
        }
    }
}
