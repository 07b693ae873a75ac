//! One page of objects from several walks of the store, each already in `date_added` order
//! (one per feed, or per type within a feed): the same for every engine.

use relay_core::query::{ObjectPage, ObjectQuery, StoredObject};

/// How many walks answer `q` over `feeds` feeds: one per feed, or one per type and feed when
/// several types are asked for (and no ids). Several walks must read one snapshot: otherwise a
/// commit between two of them could put a later object on the page without an earlier one, and
/// the next `added_after` would skip it for good.
pub fn count(feeds: usize, q: &ObjectQuery) -> usize {
    if per_type(q) {
        feeds * q.types.len()
    } else {
        feeds
    }
}

/// Whether `q` walks each feed once per type (several types, no ids): every walk then follows
/// an index already in `date_added` order.
pub fn per_type(q: &ObjectQuery) -> bool {
    q.types.len() > 1 && q.ids.is_empty()
}

/// The page `q` asks for from the rows of `walks` walks, each of which read up to one row more
/// than `q.limit` (so that `more` says whether anything follows).
pub fn page(mut rows: Vec<StoredObject>, walks: usize, q: &ObjectQuery) -> ObjectPage {
    if walks > 1 {
        if q.newest_first {
            rows.sort_by_key(|o| std::cmp::Reverse(o.date_added));
        } else {
            rows.sort_by_key(|o| o.date_added);
        }
        rows.truncate(q.limit.saturating_add(1));
    }
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    ObjectPage {
        objects: rows,
        more,
        considered_through: None,
    }
}
