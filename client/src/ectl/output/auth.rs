//! How etcdctl shows authentication, users, roles and permissions, in
//! every format.
//!
//! The commands that change something print a confirmation in simple
//! format and their (header-only) response otherwise; the listings print
//! their names one per line. etcdctl 3.4 has no fields rendering of user
//! responses, and no table rendering of any of these.

use std::io::Write;

use ectd_client::prefix_range_end;
use ectd_client::proto::authpb::permission::Type as PermissionType;
use ectd_client::proto::authpb::Permission;
use ectd_client::proto::etcdserverpb::{
    AuthRoleGetResponse, AuthRoleListResponse, AuthStatusResponse, AuthUserGetResponse,
    AuthUserListResponse, ResponseHeader,
};
use prost::Message;

use super::json::{self, Object};
use super::{fields, table_unsupported, Format, Printer};
use crate::ectl::exit::CtlError;
use crate::ectl::gostr::quote;

impl Printer {
    /// Renders the result of `auth enable` or `auth disable`, which is the
    /// same text in every format.
    pub fn auth_switched(&self, out: &mut Vec<u8>, enabled: bool) {
        out.extend_from_slice(if enabled {
            b"Authentication Enabled\n"
        } else {
            b"Authentication Disabled\n"
        });
    }

    /// Renders the response of `auth status` as etcdctl 3.5 does.
    pub fn auth_status(
        &self,
        out: &mut Vec<u8>,
        resp: &AuthStatusResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                let _ = writeln!(out, "Authentication Status: {}", resp.enabled);
                let _ = writeln!(out, "AuthRevision: {}", resp.auth_revision);
            }
            Format::Json => {
                let mut obj = Object::default();
                obj.header(&resp.header);
                obj.bool("enabled", resp.enabled);
                obj.uint("authRevision", resp.auth_revision);
                json::line(out, obj.finish());
            }
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the response of a command that changes users, roles or
    /// permissions: `confirmation` (a line of its own) in simple format,
    /// the response (`header`, and `message` for protobuf) otherwise.
    pub fn auth_changed(
        &self,
        out: &mut Vec<u8>,
        confirmation: &[u8],
        header: &Option<ResponseHeader>,
        message: &impl Message,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                out.extend_from_slice(confirmation);
                out.push(b'\n');
            }
            Format::Json => {
                let mut obj = Object::default();
                obj.header(header);
                json::line(out, obj.finish());
            }
            Format::Fields => fields::header(out, header),
            Format::Protobuf => out.extend(message.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `user get` for `user`.
    pub fn user_get(
        &self,
        out: &mut Vec<u8>,
        user: &str,
        resp: &AuthUserGetResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                let _ = write!(out, "User: {user}\nRoles:");
                for role in &resp.roles {
                    let _ = write!(out, " {role}");
                }
                out.push(b'\n');
            }
            Format::Json => {
                let mut obj = Object::default();
                obj.header(&resp.header);
                obj.strings("roles", &resp.roles);
                json::line(out, obj.finish());
            }
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `user list`.
    pub fn user_list(
        &self,
        out: &mut Vec<u8>,
        resp: &AuthUserListResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => names(out, &resp.users),
            Format::Json => {
                let mut obj = Object::default();
                obj.header(&resp.header);
                obj.strings("users", &resp.users);
                json::line(out, obj.finish());
            }
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `role get` for `role`: in simple format the
    /// keys and ranges the role may read, then those it may write.
    pub fn role_get(
        &self,
        out: &mut Vec<u8>,
        role: &str,
        resp: &AuthRoleGetResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                let _ = writeln!(out, "Role {role}");
                out.extend_from_slice(b"KV Read:\n");
                for perm in resp.perm.iter().filter(|perm| may_read(perm)) {
                    permission_line(out, perm);
                }
                out.extend_from_slice(b"KV Write:\n");
                for perm in resp.perm.iter().filter(|perm| may_write(perm)) {
                    permission_line(out, perm);
                }
            }
            Format::Json => {
                let mut obj = Object::default();
                obj.header(&resp.header);
                obj.array("perm", resp.perm.iter().map(permission_object));
                json::line(out, obj.finish());
            }
            Format::Fields => {
                fields::header(out, &resp.header);
                for perm in &resp.perm {
                    // etcdctl prints the type as a separate operand, hence
                    // the two spaces.
                    let _ = writeln!(out, "\"PermType\" :  {}", type_name(perm.perm_type));
                    let _ = writeln!(out, "\"Key\" : {}", quote(&perm.key));
                    let _ = writeln!(out, "\"RangeEnd\" : {}", quote(&perm.range_end));
                }
            }
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `role list`.
    pub fn role_list(
        &self,
        out: &mut Vec<u8>,
        resp: &AuthRoleListResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => names(out, &resp.roles),
            Format::Json => {
                let mut obj = Object::default();
                obj.header(&resp.header);
                obj.strings("roles", &resp.roles);
                json::line(out, obj.finish());
            }
            Format::Fields => {
                fields::header(out, &resp.header);
                out.extend_from_slice(b"\"Roles\" :");
                for role in &resp.roles {
                    let _ = write!(out, " {}", quote(role.as_bytes()));
                }
                out.push(b'\n');
            }
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }
}

/// How simple format shows a permission's key or range of keys.
pub fn permission_range(key: &[u8], range_end: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(2 * key.len() + 24);
    if range_end.is_empty() {
        text.extend_from_slice(key);
    } else if range_end == [0] {
        text.push(b'[');
        text.extend_from_slice(key);
        text.extend_from_slice(b", <open ended>");
    } else {
        text.push(b'[');
        text.extend_from_slice(key);
        text.extend_from_slice(b", ");
        text.extend_from_slice(range_end);
        text.push(b')');
    }
    text
}

fn permission_line(out: &mut Vec<u8>, perm: &Permission) {
    out.push(b'\t');
    out.extend(permission_range(&perm.key, &perm.range_end));
    let bounded = !perm.range_end.is_empty() && perm.range_end != [0];
    if bounded && perm.range_end == prefix_range_end(&perm.key) {
        out.extend_from_slice(b" (prefix ");
        out.extend_from_slice(&perm.key);
        out.push(b')');
    }
    out.push(b'\n');
}

fn may_read(perm: &Permission) -> bool {
    perm.perm_type == PermissionType::Read as i32
        || perm.perm_type == PermissionType::Readwrite as i32
}

fn may_write(perm: &Permission) -> bool {
    perm.perm_type == PermissionType::Write as i32
        || perm.perm_type == PermissionType::Readwrite as i32
}

/// A permission type as Go prints the enum: its name, or the number if it
/// has none.
fn type_name(value: i32) -> String {
    PermissionType::try_from(value)
        .map_or_else(|_| value.to_string(), |t| t.as_str_name().to_string())
}

/// `authpb.Permission` in Go's JSON: `permType` as a number, omitted for
/// READ (its zero value).
fn permission_object(perm: &Permission) -> String {
    let mut obj = Object::default();
    obj.int("permType", i64::from(perm.perm_type));
    obj.bytes("key", &perm.key);
    obj.bytes("range_end", &perm.range_end);
    obj.finish()
}

/// One name per line.
fn names(out: &mut Vec<u8>, names: &[String]) {
    for name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: 7803429894200499877,
            member_id: 9991493668762171918,
            revision,
            raft_term: 2,
        })
    }

    const HEADER: &str = r#"{"cluster_id":7803429894200499877,"member_id":9991493668762171918,"revision":2,"raft_term":2}"#;

    fn printer(format: Format) -> Printer {
        Printer { format, hex: false }
    }

    fn perm(perm_type: PermissionType, key: &[u8], range_end: &[u8]) -> Permission {
        Permission {
            perm_type: perm_type as i32,
            key: key.to_vec(),
            range_end: range_end.to_vec(),
        }
    }

    /// The permissions of a role as etcd 3.4 listed them, in key order.
    fn role() -> AuthRoleGetResponse {
        use PermissionType::{Read, Readwrite, Write};
        AuthRoleGetResponse {
            header: hdr(2),
            perm: vec![
                perm(Read, b"\0", b"\0"),
                perm(Read, b"a", b""),
                perm(Write, b"b", b"c"),
                perm(Read, b"e", b"d"),
                perm(Write, b"k", b""),
                perm(Readwrite, b"p/", b"p0"),
                perm(Read, b"z", b"\0"),
            ],
        }
    }

    fn render(
        format: Format,
        draw: impl Fn(&Printer, &mut Vec<u8>) -> Result<(), CtlError>,
    ) -> String {
        let mut out = Vec::new();
        draw(&printer(format), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn role_get_like_etcdctl() {
        let resp = role();
        let simple = render(Format::Simple, |p, out| p.role_get(out, "r1", &resp));
        assert_eq!(
            simple,
            "Role r1\nKV Read:\n\t[\0, <open ended>\n\ta\n\t[e, d)\n\t[p/, p0) (prefix p/)\n\
             \t[z, <open ended>\nKV Write:\n\t[b, c) (prefix b)\n\tk\n\t[p/, p0) (prefix p/)\n"
        );
        let json = render(Format::Json, |p, out| p.role_get(out, "r1", &resp));
        assert_eq!(
            json,
            format!(
                r#"{{"header":{HEADER},"perm":[{{"key":"AA==","range_end":"AA=="}},{{"key":"YQ=="}},{{"permType":1,"key":"Yg==","range_end":"Yw=="}},{{"key":"ZQ==","range_end":"ZA=="}},{{"permType":1,"key":"aw=="}},{{"permType":2,"key":"cC8=","range_end":"cDA="}},{{"key":"eg==","range_end":"AA=="}}]}}"#
            ) + "\n"
        );
        let fields = render(Format::Fields, |p, out| p.role_get(out, "r1", &resp));
        assert!(
            fields.starts_with(
                "\"ClusterID\" : 7803429894200499877\n\"MemberID\" : 9991493668762171918\n\
                 \"Revision\" : 2\n\"RaftTerm\" : 2\n\"PermType\" :  READ\n\"Key\" : \"\\x00\"\n\
                 \"RangeEnd\" : \"\\x00\"\n\"PermType\" :  READ\n\"Key\" : \"a\"\n\"RangeEnd\" : \"\"\n"
            ),
            "{fields}"
        );
        assert!(fields.contains("\"PermType\" :  READWRITE\n\"Key\" : \"p/\"\n"));
        let err = printer(Format::Table)
            .role_get(&mut Vec::new(), "r1", &resp)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (4, "table not supported as output format")
        );
    }

    #[test]
    fn users_like_etcdctl() {
        let user = AuthUserGetResponse {
            header: hdr(2),
            roles: vec!["r-json".into(), "r1".into()],
        };
        assert_eq!(
            render(Format::Simple, |p, out| p.user_get(out, "alice", &user)),
            "User: alice\nRoles: r-json r1\n"
        );
        let lonely = AuthUserGetResponse {
            header: hdr(2),
            roles: vec![],
        };
        assert_eq!(
            render(Format::Simple, |p, out| p.user_get(out, "x", &lonely)),
            "User: x\nRoles:\n"
        );
        assert_eq!(
            render(Format::Json, |p, out| p.user_get(out, "alice", &user)),
            format!(r#"{{"header":{HEADER},"roles":["r-json","r1"]}}"#) + "\n"
        );
        let err = printer(Format::Fields)
            .user_get(&mut Vec::new(), "alice", &user)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (4, "fields not supported as output format")
        );
        let list = AuthUserListResponse {
            header: hdr(2),
            users: vec!["alice".into(), "root".into()],
        };
        assert_eq!(
            render(Format::Simple, |p, out| p.user_list(out, &list)),
            "alice\nroot\n"
        );
        assert_eq!(
            render(Format::Json, |p, out| p.user_list(out, &list)),
            format!(r#"{{"header":{HEADER},"users":["alice","root"]}}"#) + "\n"
        );
    }

    #[test]
    fn role_list_fields_quote_each_name() {
        let list = AuthRoleListResponse {
            header: hdr(2),
            roles: vec!["r-fields".into(), "r1".into()],
        };
        assert_eq!(
            render(Format::Fields, |p, out| p.role_list(out, &list)),
            "\"ClusterID\" : 7803429894200499877\n\"MemberID\" : 9991493668762171918\n\
             \"Revision\" : 2\n\"RaftTerm\" : 2\n\"Roles\" : \"r-fields\" \"r1\"\n"
        );
    }

    #[test]
    fn changes_confirm_or_show_the_header() {
        use ectd_client::proto::etcdserverpb::AuthRoleAddResponse;
        let resp = AuthRoleAddResponse { header: hdr(2) };
        let draw = |p: &Printer, out: &mut Vec<u8>| {
            p.auth_changed(out, b"Role r1 created", &resp.header, &resp)
        };
        assert_eq!(render(Format::Simple, draw), "Role r1 created\n");
        assert_eq!(
            render(Format::Json, draw),
            format!("{{\"header\":{HEADER}}}\n")
        );
        assert_eq!(
            render(Format::Fields, draw),
            "\"ClusterID\" : 7803429894200499877\n\"MemberID\" : 9991493668762171918\n\
             \"Revision\" : 2\n\"RaftTerm\" : 2\n"
        );
    }

    #[test]
    fn auth_status_like_etcdctl_3_5() {
        let resp = AuthStatusResponse {
            header: Some(ResponseHeader {
                revision: 1,
                ..hdr(1).unwrap()
            }),
            enabled: true,
            auth_revision: 3,
        };
        assert_eq!(
            render(Format::Simple, |p, out| p.auth_status(out, &resp)),
            "Authentication Status: true\nAuthRevision: 3\n"
        );
        assert_eq!(
            render(Format::Json, |p, out| p.auth_status(out, &resp)),
            r#"{"header":{"cluster_id":7803429894200499877,"member_id":9991493668762171918,"revision":1,"raft_term":2},"enabled":true,"authRevision":3}"#.to_string()
                + "\n"
        );
        let disabled = AuthStatusResponse {
            enabled: false,
            auth_revision: 1,
            ..resp
        };
        assert_eq!(
            render(Format::Simple, |p, out| p.auth_status(out, &disabled)),
            "Authentication Status: false\nAuthRevision: 1\n"
        );
        let err = printer(Format::Fields)
            .auth_status(&mut Vec::new(), &resp)
            .unwrap_err();
        assert_eq!(err.message, "fields not supported as output format");
    }

    #[test]
    fn permission_ranges() {
        assert_eq!(permission_range(b"k", b""), b"k");
        assert_eq!(permission_range(b"", b"\0"), b"[, <open ended>");
        assert_eq!(permission_range(b"a", b"b"), b"[a, b)");
    }
}
