//! The command lines of `auth …`, `user …` and `role …`, spelled like
//! etcdctl's.

use std::ffi::OsString;

use clap::{ArgAction, Args, Subcommand};

use super::go_bool;

/// `auth <enable|disable|status>`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: AuthCommand,
}

/// The `auth` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Enables authentication
    #[command(override_usage = "ectl auth enable")]
    Enable(NameArgs),
    /// Disables authentication
    #[command(override_usage = "ectl auth disable")]
    Disable(NameArgs),
    /// Returns authentication status
    #[command(override_usage = "ectl auth status")]
    Status(NameArgs),
}

/// `user <subcommand>`.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: UserCommand,
}

/// The `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a new user
    #[command(override_usage = "ectl user add <user name or user:password> [options]")]
    Add(UserAddArgs),
    /// Deletes a user
    #[command(override_usage = "ectl user delete <user name>")]
    Delete(NameArgs),
    /// Gets detailed information of a user
    #[command(override_usage = "ectl user get <user name> [options]")]
    Get(UserGetArgs),
    /// Lists all users
    #[command(override_usage = "ectl user list")]
    List(NameArgs),
    /// Changes password of user
    #[command(override_usage = "ectl user passwd <user name> [options]")]
    Passwd(UserPasswdArgs),
    /// Grants a role to a user
    #[command(override_usage = "ectl user grant-role <user name> <role name>")]
    GrantRole(NameArgs),
    /// Revokes a role from a user
    #[command(override_usage = "ectl user revoke-role <user name> <role name>")]
    RevokeRole(NameArgs),
}

/// `role <subcommand>`.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: RoleCommand,
}

/// The `role` subcommands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Adds a new role
    #[command(override_usage = "ectl role add <role name>")]
    Add(NameArgs),
    /// Deletes a role
    #[command(override_usage = "ectl role delete <role name>")]
    Delete(NameArgs),
    /// Gets detailed information of a role
    #[command(override_usage = "ectl role get <role name>")]
    Get(NameArgs),
    /// Lists all roles
    #[command(override_usage = "ectl role list")]
    List(NameArgs),
    /// Grants a key to a role
    #[command(
        override_usage = "ectl role grant-permission [options] <role name> <permission type> <key> [endkey]"
    )]
    GrantPermission(PermissionArgs),
    /// Revokes a key from a role
    #[command(override_usage = "ectl role revoke-permission <role name> <key> [endkey]")]
    RevokePermission(PermissionArgs),
}

/// Commands whose arguments are names (or nothing at all); each checks
/// their number itself, with etcdctl's message.
#[derive(Debug, Clone, Args)]
pub struct NameArgs {
    #[arg(value_name = "ARGS", help = "User and role names")]
    pub args: Vec<String>,
}

/// `user add <user name or user:password> [options]`.
#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    #[arg(value_name = "ARGS", help = "The user's name, or name:password")]
    pub args: Vec<String>,

    /// Read password from stdin instead of interactive terminal
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub interactive: bool,

    /// Supply password from the command line flag
    #[arg(
        long,
        default_value = "",
        allow_hyphen_values = true,
        hide_default_value = true
    )]
    pub new_user_password: String,

    /// Create a user without password (CN based auth only)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub no_password: bool,
}

/// `user get <user name> [options]`.
#[derive(Debug, Clone, Args)]
pub struct UserGetArgs {
    #[arg(value_name = "ARGS", help = "The user's name")]
    pub args: Vec<String>,

    /// Show permissions of roles granted to the user
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub detail: bool,
}

/// `user passwd <user name> [options]`.
#[derive(Debug, Clone, Args)]
pub struct UserPasswdArgs {
    #[arg(value_name = "ARGS", help = "The user's name")]
    pub args: Vec<String>,

    /// If true, read password from stdin instead of interactive terminal
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub interactive: bool,
}

/// `role grant-permission [options] <role name> <permission type> <key>
/// [endkey]` and `role revoke-permission <role name> <key> [endkey]`.
#[derive(Debug, Clone, Args)]
pub struct PermissionArgs {
    #[arg(
        value_name = "ARGS",
        help = "The role, the permission type (grant only), the key and the range end",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// The permission covers every key with the given key as prefix
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub prefix: bool,

    /// The permission covers every key greater than or equal to the given
    /// key using byte compare
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub from_key: bool,
}
