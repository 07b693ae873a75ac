//! The one authorization policy. Every service asks here before it reads or writes a feed, an
//! object or a status resource; no handler, and no store, decides access on its own.
//!
//! Two questions are answered here:
//! - `feed_rights`: may the caller read (list, fetch) or write (post, delete) a feed at all?
//! - `visibility`: of a feed the caller may read, which objects may it see? That depends on
//!   each object's TLP, its posting organisation and, for TLP:RED, the recipients the poster
//!   named. Stores apply a `Visibility` inside their queries (so that paging and counts stay
//!   exact), and must agree with `Visibility::permits`, which the conformance suite checks.
//!
//! The rules:
//! - The ISAC administrator reads and writes everything, and sees real submitters.
//! - Users of the operator organisation read every feed, and see up to TLP:AMBER+STRICT
//!   (TLP:AMBER+STRICT is for the posting organisation and the ISAC).
//! - Other organisations read and write the feeds granted to them or to one of their trust
//!   groups. On a feed they read, they see TLP:CLEAR; TLP:GREEN when they are members of the
//!   ISAC (a partner is not) or in one of the feed's trust groups; TLP:AMBER when they are in one
//!   of the feed's trust groups (a group granted read on it).
//! - Every organisation sees what it posted itself, whatever its TLP, with its real identity.
//! - TLP:RED reaches the organisations the poster named, and nobody else.
//! - Readers never write; a read-only token never writes; nobody writes to a retired feed.
//! - The aggregate feed (`Default`) is readable and writable by every user who may write: it
//!   serves, per feed, what the feed's rules allow, and routes posts to feeds whose write
//!   rights then apply.

use crate::feed::{Feed, FeedKind, Grantee};
use crate::org::OrgKind;
use crate::principal::{Principal, Role};
use crate::tlp::Tlp;

/// What a principal may do with one feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedRights {
    pub read: bool,
    pub write: bool,
}

fn grant_applies(principal: &Principal, grantee: &Grantee) -> bool {
    match grantee {
        Grantee::Org { id, .. } => *id == principal.org_id,
        Grantee::Group { id, .. } => principal.groups.contains(id),
    }
}

pub fn feed_rights(principal: &Principal, feed: &Feed) -> FeedRights {
    // The ISAC's own staff (and its administrator) reach every feed. The aggregate feed is
    // open to all: reading it gives what each feed gives, and posting to it routes each object
    // to a feed whose rights then apply. A retired feed takes no new objects.
    let (read, write) = if principal.role == Role::Scanner {
        // A scanner reaches campaign ranges and result uploads only.
        (false, false)
    } else if feed.kind == FeedKind::Notice {
        // Every organisation reads it and sees, by TLP:RED, what names it; the relay writes.
        (true, principal.role == Role::IsacAdmin)
    } else if feed.kind == FeedKind::Aggregate
        || principal.role == Role::IsacAdmin
        || principal.org_kind == OrgKind::Operator
    {
        (true, true)
    } else {
        feed.grants
            .iter()
            .filter(|g| grant_applies(principal, &g.grantee))
            .fold((false, false), |(r, w), g| (r || g.read, w || g.write))
    };
    FeedRights {
        read,
        write: write && !feed.retired && principal.role.writes() && !principal.read_only,
    }
}

/// Which objects of one feed a principal may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// Everything, with real submitters: the ISAC administrator.
    pub everything: bool,
    /// Objects up to this TLP are visible whoever posted them; `None`: none are.
    pub open_up_to: Option<Tlp>,
    /// The caller's organisation: what it posted is visible, and TLP:RED objects that name it.
    pub org: i64,
}

impl Visibility {
    /// Whether an object with this TLP, posted by `poster_org`, naming `recipients` (for
    /// TLP:RED), is visible.
    pub fn permits(&self, tlp: Tlp, poster_org: i64, recipients: &[i64]) -> bool {
        self.everything
            || self.open_up_to.is_some_and(|open| tlp <= open)
            || poster_org == self.org
            || (tlp == Tlp::Red && recipients.contains(&self.org))
    }

    /// Whether the object's real submitter is shown (anonymised objects keep it hidden from
    /// everyone else).
    pub fn shows_submitter(&self, poster_org: i64) -> bool {
        self.everything || poster_org == self.org
    }
}

/// The objects of `feed` that `principal` may see. Only meaningful for a feed it may read.
pub fn visibility(principal: &Principal, feed: &Feed) -> Visibility {
    if principal.role == Role::IsacAdmin {
        return Visibility {
            everything: true,
            open_up_to: Some(Tlp::Red),
            org: principal.org_id,
        };
    }
    let open_up_to = if !feed_rights(principal, feed).read {
        None
    } else if principal.org_kind == OrgKind::Operator {
        Some(Tlp::AmberStrict)
    } else {
        let in_trust_group = feed.grants.iter().any(|g| {
            g.read
                && matches!(&g.grantee, Grantee::Group { id, .. } if principal.groups.contains(id))
        });
        if in_trust_group {
            Some(Tlp::Amber)
        } else if principal.org_kind == OrgKind::Member {
            Some(Tlp::Green)
        } else {
            Some(Tlp::Clear)
        }
    };
    Visibility {
        everything: false,
        open_up_to,
        org: principal.org_id,
    }
}

/// A status resource is visible to the user who posted the request and to the ISAC admin.
pub fn can_see_status(principal: &Principal, owner_user_id: i64) -> bool {
    principal.role == Role::IsacAdmin || principal.user_id == owner_user_id
}

/// Whether the caller may delete versions posted by `poster_org`: its own organisation's, or
/// anything for the ISAC administrator. `None` means any poster.
pub fn deletable_poster(principal: &Principal) -> Option<i64> {
    (principal.role != Role::IsacAdmin).then_some(principal.org_id)
}

/// Whether the caller administers organisation `org_id`: the ISAC administrator any, an
/// organisation's administrator its own. It may see the organisation's settings (profiles,
/// webhooks).
pub fn administers_org(principal: &Principal, org_id: i64) -> bool {
    match principal.role {
        Role::IsacAdmin => true,
        Role::OrgAdmin => principal.org_id == org_id,
        Role::Analyst | Role::Reader | Role::Scanner => false,
    }
}

/// Whether the caller may manage the accounts (users, tokens) and settings (profiles,
/// webhooks) of organisation `org_id`.
pub fn can_manage_accounts(principal: &Principal, org_id: i64) -> bool {
    !principal.read_only && administers_org(principal, org_id)
}

/// Whether the caller may read the relay's operational figures (monitoring).
pub fn reads_operations(principal: &Principal) -> bool {
    principal.role == Role::IsacAdmin
}

/// Aggregates shown to members count at least this many organisations (besides the caller's,
/// where it is one of them): fewer, and a member could tell another's figures.
pub const MIN_MEMBERS_IN_AGGREGATE: usize = 3;

/// Whether the caller may change the ISAC's structure: organisations, trust groups, feeds,
/// grants, and read the audit log.
pub fn can_administer(principal: &Principal) -> bool {
    principal.role == Role::IsacAdmin && !principal.read_only
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Grant;

    fn who(role: Role, org: i64, kind: OrgKind, groups: &[i64], read_only: bool) -> Principal {
        Principal {
            user_id: 10 + org,
            user_name: "u".into(),
            role,
            org_id: org,
            org_name: "o".into(),
            org_kind: kind,
            org_anonymous: false,
            groups: groups.to_vec(),
            token_id: 1,
            read_only,
            source: None,
            profile: Default::default(),
        }
    }

    fn feed() -> Feed {
        Feed {
            id: "x".into(),
            name: "C2".into(),
            description: None,
            default_tlp: Tlp::Green,
            severity: crate::feed::Severity::Urgent,
            volume: crate::feed::Volume::Many,
            kind: FeedKind::Regular,
            inbox: false,
            retired: false,
            grants: vec![
                Grant {
                    grantee: Grantee::Group {
                        id: 7,
                        name: "g".into(),
                    },
                    read: true,
                    write: true,
                },
                Grant {
                    grantee: Grantee::Org {
                        id: 3,
                        name: "o3".into(),
                    },
                    read: true,
                    write: false,
                },
            ],
        }
    }

    #[test]
    fn rights_come_from_grants_roles_and_tokens() {
        let f = feed();
        let rw = FeedRights {
            read: true,
            write: true,
        };
        let r = FeedRights {
            read: true,
            write: false,
        };
        let table = [
            (who(Role::IsacAdmin, 1, OrgKind::Operator, &[], false), rw),
            (who(Role::IsacAdmin, 1, OrgKind::Operator, &[], true), r),
            (who(Role::Analyst, 2, OrgKind::Member, &[7], false), rw),
            (who(Role::Reader, 2, OrgKind::Member, &[7], false), r),
            (who(Role::Analyst, 2, OrgKind::Member, &[7], true), r),
            (who(Role::Analyst, 3, OrgKind::Member, &[], false), r),
            (
                who(Role::OrgAdmin, 4, OrgKind::Member, &[8], false),
                FeedRights::default(),
            ),
        ];
        for (p, want) in table {
            assert_eq!(feed_rights(&p, &f), want, "{p:?}");
        }
    }

    #[test]
    fn visibility_follows_tlp_groups_membership_and_recipients() {
        let f = feed();
        let in_group = visibility(&who(Role::Reader, 2, OrgKind::Member, &[7], false), &f);
        let by_org = visibility(&who(Role::Reader, 3, OrgKind::Member, &[], false), &f);
        let partner = visibility(&who(Role::Reader, 5, OrgKind::Partner, &[7], false), &f);
        let outsider = visibility(&who(Role::Reader, 4, OrgKind::Member, &[], false), &f);
        let admin = visibility(&who(Role::IsacAdmin, 1, OrgKind::Operator, &[], false), &f);
        let poster = 9;
        assert!(in_group.permits(Tlp::Amber, poster, &[]));
        assert!(!in_group.permits(Tlp::AmberStrict, poster, &[]));
        assert!(by_org.permits(Tlp::Green, poster, &[]));
        assert!(!by_org.permits(Tlp::Amber, poster, &[]));
        assert!(
            partner.permits(Tlp::Amber, poster, &[]),
            "in the feed's group"
        );
        assert!(!outsider.permits(Tlp::Clear, poster, &[]), "no rights");
        assert!(by_org.permits(Tlp::Red, poster, &[3]));
        assert!(!in_group.permits(Tlp::Red, poster, &[3]));
        assert!(by_org.permits(Tlp::Red, 3, &[]), "its own post");
        assert!(admin.permits(Tlp::Red, poster, &[]) && admin.shows_submitter(poster));
        assert!(!in_group.shows_submitter(poster) && in_group.shows_submitter(2));
    }
}
