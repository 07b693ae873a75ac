//! The one authorization policy. Every service asks here before it reads or writes a feed or a
//! status resource; no handler decides access on its own.

use crate::feed::Feed;
use crate::principal::{Principal, Role};

/// What a principal may do with one feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedRights {
    pub read: bool,
    pub write: bool,
}

pub fn feed_rights(principal: &Principal, _feed: &Feed) -> FeedRights {
    let (read, write) = match principal.role {
        Role::IsacAdmin => (true, true),
    };
    FeedRights {
        read,
        write: write && !principal.read_only,
    }
}

/// A status resource is visible to the user who posted the request and to the ISAC admin.
pub fn can_see_status(principal: &Principal, owner_user_id: i64) -> bool {
    principal.role == Role::IsacAdmin || principal.user_id == owner_user_id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(read_only: bool) -> Principal {
        Principal {
            user_id: 1,
            user_name: "admin".into(),
            role: Role::IsacAdmin,
            token_id: 1,
            read_only,
        }
    }

    #[test]
    fn read_only_tokens_never_write() {
        let feed = Feed {
            id: "x".into(),
            name: "TEST".into(),
            description: None,
        };
        assert_eq!(
            feed_rights(&admin(false), &feed),
            FeedRights {
                read: true,
                write: true
            }
        );
        assert_eq!(
            feed_rights(&admin(true), &feed),
            FeedRights {
                read: true,
                write: false
            }
        );
    }
}
