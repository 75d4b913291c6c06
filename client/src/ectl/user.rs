//! `ectl user`: creates, inspects and removes users, sets their
//! passwords and grants them roles.

use super::args::{NameArgs, UserAddArgs, UserCommand, UserGetArgs, UserPasswdArgs};
use super::exit::CtlError;
use super::{password, Context};

/// Runs one `user` subcommand and renders its response into `out`.
pub async fn run(
    ctx: &Context<'_>,
    command: &UserCommand,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match command {
        UserCommand::Add(args) => add(ctx, args, out).await,
        UserCommand::Delete(args) => delete(ctx, args, out).await,
        UserCommand::Get(args) => get(ctx, args, out).await,
        UserCommand::List(args) => list(ctx, args, out).await,
        UserCommand::Passwd(args) => passwd(ctx, args, out).await,
        UserCommand::GrantRole(args) => grant_role(ctx, args, out).await,
        UserCommand::RevokeRole(args) => revoke_role(ctx, args, out).await,
    }
}

/// The user `user add` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The user name.
    pub name: String,
    /// `None` for a user without a password (`--no-password`).
    pub password: Option<String>,
}

/// Reads `user add`'s arguments as etcdctl does: with `--no-password` or
/// `--new-user-password` the argument is the whole name; otherwise
/// `name:password` splits at the first colon, and a bare name has its
/// password asked for (`ask`, given the name).
pub fn new_user(
    args: &UserAddArgs,
    ask: impl FnOnce(&str) -> Result<String, CtlError>,
) -> Result<NewUser, CtlError> {
    let [arg] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "user add command requires user name as its argument",
        ));
    };
    let (name, password) = if args.no_password {
        (arg.as_str(), None)
    } else if !args.new_user_password.is_empty() {
        (arg.as_str(), Some(args.new_user_password.clone()))
    } else {
        match arg.split_once(':') {
            Some(("", _)) => return Err(CtlError::bad_args("empty user name is not allowed")),
            Some((name, password)) => (name, Some(password.to_string())),
            None => (arg.as_str(), Some(ask(arg)?)),
        }
    };
    Ok(NewUser {
        name: name.to_string(),
        password,
    })
}

/// A new password for `user`: typed twice, or with `--interactive=false`
/// the first word on stdin.
fn new_password(user: &str, interactive: bool) -> Result<String, CtlError> {
    if interactive {
        password::prompt_new(user)
    } else {
        Ok(password::read_new())
    }
}

async fn add(ctx: &Context<'_>, args: &UserAddArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let user = new_user(args, |name| new_password(name, args.interactive))?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = match &user.password {
        Some(password) => client.user_add(&user.name, password).await?,
        None => client.user_add_without_password(&user.name).await?,
    };
    let created = format!("User {} created", user.name);
    printer.auth_changed(out, created.as_bytes(), &resp.header, &resp)
}

async fn delete(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let [name] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "user delete command requires user name as its argument",
        ));
    };
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.user_delete(name).await?;
    let deleted = format!("User {name} deleted");
    printer.auth_changed(out, deleted.as_bytes(), &resp.header, &resp)
}

/// With `--detail`, the user's name and then each of its roles as `role
/// get` shows it, in any format; a role that cannot be read ends the
/// command there.
async fn get(ctx: &Context<'_>, args: &UserGetArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let [name] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "user get command requires user name as its argument",
        ));
    };
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.user_get(name).await?;
    if !args.detail {
        return printer.user_get(out, name, &resp);
    }
    out.extend_from_slice(format!("User: {name}\n").as_bytes());
    for role in &resp.roles {
        out.push(b'\n');
        let role_resp = client.role_get(role).await?;
        printer.role_get(out, role, &role_resp)?;
    }
    Ok(())
}

async fn list(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    if !args.args.is_empty() {
        return Err(CtlError::bad_args(
            "user list command requires no arguments",
        ));
    }
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.user_list().await?;
    printer.user_list(out, &resp)
}

async fn passwd(
    ctx: &Context<'_>,
    args: &UserPasswdArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let [name] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "user passwd command requires user name as its argument",
        ));
    };
    let password = new_password(name, args.interactive)?;
    let printer = ctx.printer()?;
    let resp = ctx
        .connect()
        .await?
        .user_change_password(name, password)
        .await?;
    printer.auth_changed(out, b"Password updated", &resp.header, &resp)
}

async fn grant_role(ctx: &Context<'_>, args: &NameArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let [user, role] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "user grant command requires user name and role name as its argument",
        ));
    };
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.user_grant_role(user, role).await?;
    let granted = format!("Role {role} is granted to user {user}");
    printer.auth_changed(out, granted.as_bytes(), &resp.header, &resp)
}

async fn revoke_role(
    ctx: &Context<'_>,
    args: &NameArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let [user, role] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "user revoke-role requires user name and role name as its argument",
        ));
    };
    let printer = ctx.printer()?;
    let resp = ctx.connect().await?.user_revoke_role(user, role).await?;
    let revoked = format!("Role {role} is revoked from user {user}");
    printer.auth_changed(out, revoked.as_bytes(), &resp.header, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_args(arg: &[&str]) -> UserAddArgs {
        UserAddArgs {
            args: arg.iter().map(|a| a.to_string()).collect(),
            interactive: true,
            new_user_password: String::new(),
            no_password: false,
        }
    }

    fn typed(name: &str) -> Result<String, CtlError> {
        Ok(format!("typed-for-{name}"))
    }

    fn user(name: &str, password: Option<&str>) -> NewUser {
        NewUser {
            name: name.to_string(),
            password: password.map(str::to_string),
        }
    }

    #[test]
    fn names_and_passwords_read_like_etcdctl() {
        assert_eq!(
            new_user(&add_args(&["alice:pw"]), typed),
            Ok(user("alice", Some("pw")))
        );
        assert_eq!(
            new_user(&add_args(&["alice:a:b"]), typed),
            Ok(user("alice", Some("a:b")))
        );
        assert_eq!(new_user(&add_args(&["a:"]), typed), Ok(user("a", Some(""))));
        assert_eq!(
            new_user(&add_args(&["bob"]), typed),
            Ok(user("bob", Some("typed-for-bob")))
        );
        let no_password = UserAddArgs {
            no_password: true,
            new_user_password: "ignored".into(),
            ..add_args(&["nopw:y"])
        };
        assert_eq!(new_user(&no_password, typed), Ok(user("nopw:y", None)));
        let flag = UserAddArgs {
            new_user_password: "z".into(),
            ..add_args(&["np:y"])
        };
        assert_eq!(new_user(&flag, typed), Ok(user("np:y", Some("z"))));
    }

    #[test]
    fn add_argument_errors() {
        let err = new_user(&add_args(&[":x"]), typed).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "empty user name is not allowed")
        );
        let err = new_user(&add_args(&[]), typed).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "user add command requires user name as its argument")
        );
        assert!(new_user(&add_args(&["a", "b"]), typed).is_err());
    }
}
