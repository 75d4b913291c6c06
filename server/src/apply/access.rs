//! Permission checks made when a client's write is applied, against the auth
//! store as of that point in the log and the identity the command carries.

use ectd_proto::etcdserverpb::{DeleteRangeRequest, PutRequest};
use ectd_proto::raftcmd::AuthHeader;

use crate::auth::{check_header, Access, State};
use crate::error::Error;
use crate::mvcc::WriteTxn;

/// A put needs write access to its key, to every key already on its lease (a
/// user who could not revoke the lease may not add to it), and read access to
/// the key with `prev_kv`.
pub fn put(state: &State, h: &AuthHeader, txn: &WriteTxn<'_>, r: &PutRequest) -> Result<(), Error> {
    check_header(state, h, Access::Write, &r.key, &[])?;
    if r.lease != 0 {
        lease_keys(state, h, txn, r.lease)?;
    }
    if r.prev_kv {
        check_header(state, h, Access::Read, &r.key, &[])?;
    }
    Ok(())
}

/// A delete needs write access to its range, and read access with `prev_kv`.
pub fn delete_range(state: &State, h: &AuthHeader, r: &DeleteRangeRequest) -> Result<(), Error> {
    check_header(state, h, Access::Write, &r.key, &r.range_end)?;
    if r.prev_kv {
        check_header(state, h, Access::Read, &r.key, &r.range_end)?;
    }
    Ok(())
}

/// Write access to every key attached to lease `id` (revoking it deletes them).
pub fn lease_keys(state: &State, h: &AuthHeader, txn: &WriteTxn<'_>, id: i64) -> Result<(), Error> {
    if state.has_role(&h.username, crate::auth::ROOT) && h.revision >= state.revision() {
        return Ok(());
    }
    for key in txn.lease_keys(id) {
        check_header(state, h, Access::Write, &key, &[])?;
    }
    Ok(())
}
