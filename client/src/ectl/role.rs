//! `ectl role`: creates, inspects and removes roles, and grants and
//! revokes their key permissions.

use ectd_client::prefix_range_end;
use ectd_client::proto::authpb::permission::Type as PermissionType;
use ectd_client::proto::authpb::Permission;

use super::args::{NameArgs, PermissionArgs, RoleCommand};
use super::exit::CtlError;
use super::output::permission_range;
use super::{os_bytes, Context};

/// Runs one `role` subcommand and renders its response into `out`.
pub async fn run(
    ctx: &Context<'_>,
    command: &RoleCommand,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match command {
        RoleCommand::Add(args) => add(ctx, args, out).await,
        RoleCommand::Delete(args) => delete(ctx, args, out).await,
        RoleCommand::Get(args) => get(ctx, args, out).await,
        RoleCommand::List(args) => list(ctx, args, out).await,
        RoleCommand::GrantPermission(args) => grant_permission(ctx, args, out).await,
        RoleCommand::RevokePermission(args) => revoke_permission(ctx, args, out).await,
    }
}

/// The role name of `role add`, `delete` and `get`.
fn role_name<'a>(args: &'a NameArgs, command: &str) -> Result<&'a str, CtlError> {
    match args.args.as_slice() {
        [name] => Ok(name),
        _ => Err(CtlError::bad_args(format!(
            "role {command} command requires role name as its argument"
        ))),
    }
}

async fn add(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let name = role_name(args, "add")?;
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.role_add(name).await?;
    let created = format!("Role {name} created");
    printer.auth_changed(out, created.as_bytes(), &resp.header, &resp)
}

async fn delete(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let name = role_name(args, "delete")?;
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.role_delete(name).await?;
    let deleted = format!("Role {name} deleted");
    printer.auth_changed(out, deleted.as_bytes(), &resp.header, &resp)
}

async fn get(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let name = role_name(args, "get")?;
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.role_get(name).await?;
    printer.role_get(out, name, &resp)
}

async fn list(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    if !args.args.is_empty() {
        return Err(CtlError::bad_args(
            "role list command requires no arguments",
        ));
    }
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.role_list().await?;
    printer.role_list(out, &resp)
}

/// A permission type argument: `read`, `write` or `readwrite`, in any case.
pub fn permission_type(arg: &str) -> Result<PermissionType, CtlError> {
    match arg.to_uppercase().as_str() {
        "READ" => Ok(PermissionType::Read),
        "WRITE" => Ok(PermissionType::Write),
        "READWRITE" => Ok(PermissionType::Readwrite),
        _ => Err(CtlError::bad_args(format!(
            "invalid permission type: {arg}"
        ))),
    }
}

/// The key and range end a permission covers, from a key argument, the
/// optional range end argument and the `--prefix` / `--from-key` flags.
/// An empty key stands for every key (a permission's key cannot be empty):
/// with either flag the permission covers the whole key space, without
/// them only the key `\0`, whatever range end was given.
pub fn permission_keys(
    key: &[u8],
    range_end: Option<&[u8]>,
    prefix: bool,
    from_key: bool,
) -> Result<(Vec<u8>, Vec<u8>), CtlError> {
    let exclusive = || CtlError::bad_args("--from-key and --prefix flags are mutually exclusive");
    if key.is_empty() {
        if prefix && from_key {
            return Err(exclusive());
        }
        let range_end = if prefix || from_key { vec![0] } else { vec![] };
        return Ok((vec![0], range_end));
    }
    let range_end = if prefix {
        if range_end.is_some() {
            return Err(CtlError::bad_args(
                "unexpected endkey argument with --prefix flag",
            ));
        }
        if from_key {
            return Err(exclusive());
        }
        prefix_range_end(key)
    } else if from_key {
        if range_end.is_some() {
            return Err(CtlError::bad_args(
                "unexpected endkey argument with --from-key flag",
            ));
        }
        vec![0]
    } else {
        range_end.unwrap_or_default().to_vec()
    };
    Ok((key.to_vec(), range_end))
}

async fn grant_permission(
    ctx: &Context<'_>,
    args: &PermissionArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let [role, perm_type, key, rest @ ..] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "role grant command requires role name, permission type, and key [endkey] as its argument",
        ));
    };
    let role = role.to_string_lossy();
    let perm_type = permission_type(&perm_type.to_string_lossy())?;
    let range_end = rest.first().map(|end| os_bytes(end));
    let (key, range_end) = permission_keys(
        &os_bytes(key),
        range_end.as_deref(),
        args.prefix,
        args.from_key,
    )?;
    let printer = ctx.printer()?;
    let permission = Permission {
        perm_type: perm_type as i32,
        key,
        range_end,
    };
    let resp = ctx
        .connect()
        .await?
        .role_grant_permission(role.as_ref(), permission)
        .await?;
    let updated = format!("Role {role} updated");
    printer.auth_changed(out, updated.as_bytes(), &resp.header, &resp)
}

/// Confirms the permission of `role` for the key as it was given
/// (`key`) and the range end it stands for.
fn revoked(role: &str, key: &[u8], range_end: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    if range_end.is_empty() {
        text.extend_from_slice(b"Permission of key ");
    } else {
        text.extend_from_slice(b"Permission of range ");
    }
    text.extend(permission_range(key, range_end));
    text.extend_from_slice(format!(" is revoked from role {role}").as_bytes());
    text
}

async fn revoke_permission(
    ctx: &Context<'_>,
    args: &PermissionArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let [role, key, rest @ ..] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "role revoke-permission command requires role name and key [endkey] as its argument",
        ));
    };
    let role = role.to_string_lossy();
    let given_key = os_bytes(key);
    let range_end = rest.first().map(|end| os_bytes(end));
    let (key, range_end) =
        permission_keys(&given_key, range_end.as_deref(), args.prefix, args.from_key)?;
    let printer = ctx.printer()?;
    let resp = ctx
        .connect()
        .await?
        .role_revoke_permission(role.as_ref(), key, range_end.clone())
        .await?;
    let confirmation = revoked(&role, &given_key, &range_end);
    printer.auth_changed(out, &confirmation, &resp.header, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(
        key: &str,
        range_end: Option<&str>,
        prefix: bool,
        from_key: bool,
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        permission_keys(
            key.as_bytes(),
            range_end.map(str::as_bytes),
            prefix,
            from_key,
        )
        .map_err(|err| err.message)
    }

    fn range(key: &[u8], range_end: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        Ok((key.to_vec(), range_end.to_vec()))
    }

    #[test]
    fn permission_ranges_like_etcdctl() {
        assert_eq!(keys("a", None, false, false), range(b"a", b""));
        assert_eq!(keys("b", Some("c"), false, false), range(b"b", b"c"));
        assert_eq!(keys("x", Some(""), false, false), range(b"x", b""));
        assert_eq!(keys("p/", None, true, false), range(b"p/", b"p0"));
        assert_eq!(keys("z", None, false, true), range(b"z", b"\0"));
        // An empty key is the whole key space, or the key "\0".
        assert_eq!(keys("", None, true, false), range(b"\0", b"\0"));
        assert_eq!(keys("", Some("e"), false, true), range(b"\0", b"\0"));
        assert_eq!(keys("", Some("e"), false, false), range(b"\0", b""));
    }

    #[test]
    fn permission_range_mistakes() {
        let mutually = "--from-key and --prefix flags are mutually exclusive".to_string();
        assert_eq!(keys("a", None, true, true), Err(mutually.clone()));
        assert_eq!(keys("", None, true, true), Err(mutually));
        assert_eq!(
            keys("a", Some("b"), true, true),
            Err("unexpected endkey argument with --prefix flag".to_string())
        );
        assert_eq!(
            keys("a", Some("b"), false, true),
            Err("unexpected endkey argument with --from-key flag".to_string())
        );
    }

    #[test]
    fn permission_types_in_any_case() {
        assert_eq!(permission_type("READ"), Ok(PermissionType::Read));
        assert_eq!(permission_type("Write"), Ok(PermissionType::Write));
        assert_eq!(permission_type("readWRITE"), Ok(PermissionType::Readwrite));
        let err = permission_type("rw").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "invalid permission type: rw")
        );
    }

    #[test]
    fn revocations_name_the_key_as_given() {
        assert_eq!(
            revoked("r", b"a", b""),
            b"Permission of key a is revoked from role r"
        );
        assert_eq!(
            revoked("r", b"b", b"c"),
            b"Permission of range [b, c) is revoked from role r"
        );
        assert_eq!(
            revoked("r", b"", b"\0"),
            b"Permission of range [, <open ended> is revoked from role r"
        );
    }
}
