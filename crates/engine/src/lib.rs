//! The relay's logic over relay-core and a `dyn Store`: exports of block lists in the formats
//! firewalls, resolvers and IDSes load, and the exchange of the lists members apply. Knows no
//! HTTP and no SQL: the server and the command line call `export::Exports`.

pub mod export;
pub mod metrics;
pub mod netmap;
pub mod notice;

use relay_core::{Error, Principal, policy};

/// Refuses anyone but a read-write ISAC administrator: `what` names what is theirs.
pub(crate) fn require_admin(who: &Principal, what: &str) -> Result<(), Error> {
    if policy::can_administer(who) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{what} is for the ISAC administrators"
        )))
    }
}
