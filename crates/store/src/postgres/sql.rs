//! Building statements whose shape depends on the request (visibility per feed, optional
//! filters): the text with its `$n` placeholders and the values they stand for, kept together
//! so that a placeholder can never point at the wrong value. Lists travel as one array value
//! (`= ANY($n)`), so a statement's text does not grow with them.

use relay_core::Tlp;
use relay_core::policy::Visibility;
use relay_core::store::StoreError;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use super::pg;

/// The values of a statement's placeholders, in order.
#[derive(Default)]
pub struct Args(Vec<Box<dyn ToSql + Sync + Send>>);

impl Args {
    /// Adds a value; returns its placeholder (`$n`).
    pub fn add(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(value));
        format!("${}", self.0.len())
    }

    /// The values as the driver takes them.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// ` AND (<visible>)` for objects of the table or alias `t` (which has `tlp`, `poster_org` and
/// `seq`): the clause `Visibility::permits` describes, so that what a caller may not see is
/// never read, counted or paged over. Empty when the caller sees everything.
pub fn visibility(args: &mut Args, t: &str, v: &Visibility) -> String {
    if v.everything {
        return String::new();
    }
    let open = args.add(v.open_up_to.map_or(-1, Tlp::code));
    let org = args.add(v.org);
    let red = args.add(Tlp::Red.code());
    format!(
        " AND ({t}.tlp <= {open} OR {t}.poster_org = {org} OR ({t}.tlp = {red} AND EXISTS
             (SELECT 1 FROM object_recipients r WHERE r.object_seq = {t}.seq AND r.org = {org})))"
    )
}

/// The body column served: the original for those who may see the real submitter, else the
/// redistributed form.
pub fn body_column(args: &mut Args, t: &str, v: &Visibility) -> String {
    if v.everything {
        format!("coalesce({t}.original_body, {t}.body)")
    } else {
        let org = args.add(v.org);
        format!(
            "CASE WHEN {t}.poster_org = {org} THEN coalesce({t}.original_body, {t}.body) ELSE {t}.body END"
        )
    }
}

/// Reading a column with its failure as a `StoreError` (a stored value of an unexpected type
/// is an internal error, never a panic).
pub trait Col {
    fn col<'a, T: FromSql<'a>>(&'a self, i: usize) -> Result<T, StoreError>;
}

impl Col for Row {
    fn col<'a, T: FromSql<'a>>(&'a self, i: usize) -> Result<T, StoreError> {
        self.try_get(i).map_err(pg)
    }
}

/// A count or size stored as BIGINT, as an unsigned number (never negative when stored by us).
pub fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A number of items as BIGINT.
pub fn big(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
