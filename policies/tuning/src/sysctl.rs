//! How the kubelet reads pod sysctls (`pkg/kubelet/sysctl`, `component-helpers/node/util/
//! sysctl`). Candidate for the SDK: the security rule keeps the same table for its PSS
//! messages (docs/sdk-requests: "sysctl namespaces and the kubelet's safe set").

/// The kubelet's safe sysctls (`safe_sysctls.go`), enabled on every Linux node, with the
/// Kubernetes minor version that added each.
pub const KUBELET_SAFE: [(&str, u32); 12] = [
    ("kernel.shm_rmid_forced", 4),
    ("net.ipv4.ip_local_port_range", 4),
    ("net.ipv4.tcp_syncookies", 4),
    ("net.ipv4.ping_group_range", 18),
    ("net.ipv4.ip_unprivileged_port_start", 22),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
];

/// The namespace a sysctl lives in, as the kubelet decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Ipc,
    Net,
    /// Not namespaced: a node-wide setting no pod can set.
    Node,
}

/// `ConvertSysctlVariableToDotsSeparator`: when the first separator is `/`, `/` and `.` swap.
pub fn normalize(name: &str) -> String {
    match name.find(['.', '/']) {
        Some(i) if name.as_bytes().get(i) == Some(&b'/') => name
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => name.to_string(),
    }
}

/// `NamespacedBy`: ipc for `kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`; net for
/// `net.*`.
pub fn namespace_of(name: &str) -> Namespace {
    let name = normalize(name);
    if name.starts_with("kernel.shm")
        || name.starts_with("kernel.msg")
        || name == "kernel.sem"
        || name.starts_with("fs.mqueue.")
    {
        Namespace::Ipc
    } else if name.starts_with("net.") {
        Namespace::Net
    } else {
        Namespace::Node
    }
}

pub fn is_namespaced(name: &str) -> bool {
    namespace_of(name) != Namespace::Node
}

/// Whether the kubelet's safe set has the sysctl (after normalisation).
pub fn is_safe(name: &str) -> bool {
    let name = normalize(name);
    KUBELET_SAFE.iter().any(|(n, _)| *n == name)
}

/// Whether an `--allowed-unsafe-sysctls` entry (a name, or a prefix ending in `*`) allows it.
pub fn allowed_by(entry: &str, name: &str) -> bool {
    let name = normalize(name);
    match entry.strip_suffix('*') {
        Some(prefix) => name.starts_with(&normalize(prefix)),
        None => normalize(entry) == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_normalisation() {
        assert_eq!(namespace_of("net.core.somaxconn"), Namespace::Net);
        assert_eq!(namespace_of("net/core/somaxconn"), Namespace::Net);
        assert_eq!(namespace_of("kernel.msgmax"), Namespace::Ipc);
        assert_eq!(namespace_of("kernel.sem"), Namespace::Ipc);
        assert_eq!(namespace_of("fs.mqueue.msg_max"), Namespace::Ipc);
        assert_eq!(namespace_of("vm.max_map_count"), Namespace::Node);
        assert_eq!(namespace_of("kernel.pid_max"), Namespace::Node);
        assert!(is_safe("net/ipv4/tcp_syncookies"));
        assert!(allowed_by("net.core.*", "net.core.somaxconn"));
        assert!(allowed_by("net.core.somaxconn", "net/core/somaxconn"));
        assert!(!allowed_by("net.core.somaxconn", "net.core.rmem_max"));
    }
}
