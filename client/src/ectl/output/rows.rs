//! The rows etcdctl shows for members and endpoints: the `table` format
//! draws them in a grid, the `simple` format joins each row with `, `.

use ectd_client::proto::etcdserverpb::Member;

use super::{EndpointHealth, EndpointStatus};

/// Column titles of `member list`.
pub const MEMBER_HEADER: [&str; 6] = [
    "ID",
    "Status",
    "Name",
    "Peer Addrs",
    "Client Addrs",
    "Is Learner",
];

/// Column titles of `endpoint health`.
pub const HEALTH_HEADER: [&str; 4] = ["endpoint", "health", "took", "error"];

/// Column titles of `endpoint status`.
pub const STATUS_HEADER: [&str; 10] = [
    "endpoint",
    "ID",
    "version",
    "db size",
    "is leader",
    "is learner",
    "raft term",
    "raft index",
    "raft applied index",
    "errors",
];

/// One row per member. A member without a name has been added but has not
/// started (and so has not published its name) yet.
pub fn members(members: &[Member]) -> Vec<Vec<String>> {
    members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() {
                    "unstarted"
                } else {
                    "started"
                }
                .to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

/// One row per checked endpoint.
pub fn health(list: &[EndpointHealth]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| {
            vec![
                h.endpoint.clone(),
                h.health.to_string(),
                h.took.clone(),
                h.error.clone(),
            ]
        })
        .collect()
}

/// One row per endpoint that answered.
pub fn status(list: &[EndpointStatus]) -> Vec<Vec<String>> {
    list.iter()
        .map(|ep| {
            let s = &ep.status;
            let member_id = s.header.map_or(0, |h| h.member_id);
            vec![
                ep.endpoint.clone(),
                format!("{member_id:x}"),
                s.version.clone(),
                // A negative size cannot happen; Go would show it wrapped.
                human_bytes(s.db_size as u64),
                (s.leader == member_id).to_string(),
                s.is_learner.to_string(),
                s.raft_term.to_string(),
                s.raft_index.to_string(),
                s.raft_applied_index.to_string(),
                s.errors.join(", "),
            ]
        })
        .collect()
}

/// A byte count in SI units with at most one decimal below 10 (`8 B`,
/// `20 kB`, `1.5 MB`, `123 GB`), as go-humanize's `Bytes` writes it.
pub fn human_bytes(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if size < 10 {
        return format!("{size} B");
    }
    let mut exponent = 0;
    let mut scale: u64 = 1;
    while exponent + 1 < UNITS.len() && size / scale >= 1000 {
        scale *= 1000;
        exponent += 1;
    }
    // The same float operations as go-humanize, so values right at a
    // rounding boundary round the same way.
    let value = (size as f64 / scale as f64 * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[exponent])
    } else {
        format!("{value:.0} {}", UNITS[exponent])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_client::proto::etcdserverpb::{ResponseHeader, StatusResponse};

    #[test]
    fn sizes_like_go_humanize() {
        let cases = [
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (999, "999 B"),
            (1000, "1.0 kB"),
            (16384, "16 kB"),
            (20480, "20 kB"),
            (1_550_000, "1.6 MB"),
            (9_949_999, "9.9 MB"),
            (9_950_000, "10 MB"),
            (999_999, "1000 kB"),
            (1_000_000, "1.0 MB"),
            (123_456_789_000, "124 GB"),
            (122_450_000_000, "122 GB"),
            (2_250_000, "2.3 MB"),
            (u64::MAX, "18 EB"),
        ];
        for (size, text) in cases {
            assert_eq!(human_bytes(size), text, "{size}");
        }
    }

    #[test]
    fn member_rows() {
        let rows = members(&[
            Member {
                id: 0x481d_269a_2381_9833,
                name: "m1".into(),
                peer_ur_ls: vec!["http://127.0.0.1:2380".into()],
                client_ur_ls: vec!["http://127.0.0.1:2379".into(), "http://h:1".into()],
                is_learner: false,
            },
            Member {
                id: 0xa37,
                peer_ur_ls: vec!["http://127.0.0.1:2480".into()],
                is_learner: true,
                ..Default::default()
            },
        ]);
        assert_eq!(
            rows.iter().map(|r| r.join(", ")).collect::<Vec<_>>(),
            [
                "481d269a23819833, started, m1, http://127.0.0.1:2380, \
                 http://127.0.0.1:2379,http://h:1, false",
                "a37, unstarted, , http://127.0.0.1:2480, , true",
            ]
        );
    }

    #[test]
    fn status_rows() {
        let rows = status(&[EndpointStatus {
            endpoint: "127.0.0.1:2379".into(),
            status: StatusResponse {
                header: Some(ResponseHeader {
                    member_id: 0x481d,
                    ..Default::default()
                }),
                version: "3.4.23".into(),
                db_size: 20480,
                leader: 0x481d,
                raft_index: 8,
                raft_term: 2,
                raft_applied_index: 7,
                errors: vec!["a".into(), "b".into()],
                ..Default::default()
            },
        }]);
        assert_eq!(
            rows[0].join(", "),
            "127.0.0.1:2379, 481d, 3.4.23, 20 kB, true, false, 2, 8, 7, a, b"
        );
    }
}
