//! etcd 3.4's v2 auth (`/v2/auth/...`, and HTTP basic auth on `/v2/keys` and
//! `/v2/members`), separate from v3 auth as in etcd: turning either on leaves
//! the other as it was.
//!
//! - [`records`]: users and roles, their JSON, merges and key patterns;
//! - [`store`]: reading and changing the records, kept in the v2 store under
//!   `/2` as etcd keeps them;
//! - [`access`]: the credentials a request carries and what they allow;
//! - [`http`]: the `/v2/auth` endpoints.

pub mod access;
pub mod http;
pub mod records;
pub mod store;

pub use access::{has_key_access, has_root_access, is_write, Caller};
