//! Conformance tests, engine-agnostic: each takes a fresh store.

use std::sync::Arc;

use relay_core::policy::Visibility;
use relay_core::query::{ObjectPage, ObjectQuery, VersionFilter};
use relay_core::status::StatusDraft;
use relay_core::store::{AddObjects, Change, DeleteObject, NewObject};
use relay_core::{AuditEntry, Feed, NewToken, Store, StoreError, Tlp};
use stix::Timestamp;

/// An audit entry for a change made by the suite.
fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        at: Timestamp::now(),
        actor: "suite".into(),
        org: None,
        source: None,
        action: action.into(),
        feed: None,
        count: None,
        ids: Vec::new(),
        detail: None,
    }
}

/// What the ISAC administrator sees: everything.
fn all() -> Visibility {
    Visibility {
        everything: true,
        open_up_to: Some(Tlp::Red),
        org: 1,
    }
}

async fn query_all(
    store: &Arc<dyn Store>,
    feed_id: &str,
    q: &ObjectQuery,
) -> Result<ObjectPage, StoreError> {
    store.query_objects(&[(feed_id.to_owned(), all())], q).await
}

async fn delete(
    store: &Arc<dyn Store>,
    feed_id: &str,
    object_id: &str,
    versions: &VersionFilter,
    spec_versions: &[String],
) -> Result<usize, StoreError> {
    let request = DeleteObject {
        feed_id: feed_id.to_owned(),
        object_id: object_id.to_owned(),
        versions: versions.clone(),
        spec_versions: spec_versions.to_vec(),
        poster_org: None,
    };
    store.delete_object(request, entry("object.delete")).await
}

async fn create_feed(store: &Arc<dyn Store>, feed: &Feed) -> Result<i64, StoreError> {
    store
        .apply(Change::CreateFeed(feed.clone()), entry("feed.create"))
        .await
}

async fn create_token(store: &Arc<dyn Store>, token: NewToken) -> Result<i64, StoreError> {
    store
        .apply(Change::CreateToken(token), entry("token.create"))
        .await
}

async fn revoke_token(store: &Arc<dyn Store>, id: i64, at: Timestamp) -> Result<i64, StoreError> {
    store
        .apply(Change::RevokeToken { id, at }, entry("token.revoke"))
        .await
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn obj(id: &str, ty: &str, version: Option<&str>) -> NewObject {
    NewObject {
        id: id.to_owned(),
        object_type: ty.to_owned(),
        spec_version: "2.1".into(),
        version: version.map(ts),
        body: format!("{{\"id\":\"{id}\",\"v\":\"{}\"}}", version.unwrap_or("-")),
        observables: Vec::new(),
        warnings: Vec::new(),
        tlp: Tlp::Green,
        recipients: Vec::new(),
        original_body: None,
        confidence: None,
        note: None,
        feed_id: String::new(),
        revoked: false,
        valid_until: None,
        metrics: None,
        refs: Vec::new(),
        source_peer: None,
    }
}

/// A POST of `objects` to `feed` (objects that name no feed go there).
pub fn add(feed: &Feed, mut objects: Vec<NewObject>) -> AddObjects {
    for o in &mut objects {
        if o.feed_id.is_empty() {
            o.feed_id = feed.id.clone();
        }
    }
    AddObjects {
        owner_user_id: 1,
        poster_org: 1,
        audit: entry("objects.add"),
        status: StatusDraft {
            id: uuid::Uuid::new_v4().to_string(),
            request_timestamp: Timestamp::now().to_string(),
            total_count: objects.len() as u64,
            failures: Vec::new(),
        },
        objects,
        read_scope: vec![(
            feed.id.clone(),
            relay_core::policy::Visibility {
                everything: true,
                open_up_to: Some(Tlp::Red),
                org: 1,
            },
        )],
    }
}

fn query() -> ObjectQuery {
    ObjectQuery::all_versions(None, 1000)
}

/// A regular feed as an administrator creates it.
fn new_feed(name: &str, description: Option<&str>) -> Feed {
    Feed {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        description: description.map(str::to_owned),
        default_tlp: Tlp::Green,
        severity: relay_core::Severity::Important,
        volume: relay_core::Volume::Medium,
        kind: relay_core::FeedKind::Regular,
        inbox: false,
        retired: false,
        grants: Vec::new(),
    }
}

/// How many object versions a query returns.
async fn count(store: &Arc<dyn Store>, feed: &Feed, q: &ObjectQuery) -> usize {
    query_all(store, &feed.id, q).await.unwrap().objects.len()
}

/// Creates the TEST feed and returns it.
pub async fn seed(store: &Arc<dyn Store>) -> Feed {
    let feed = new_feed("TEST", Some("for tests"));
    create_feed(store, &feed).await.unwrap();
    feed
}

const A: &str = "indicator--11111111-1111-4111-8111-111111111111";
const B: &str = "malware--22222222-2222-4222-8222-222222222222";
const C: &str = "ipv4-addr--33333333-3333-5333-8333-333333333333";

pub async fn admin_bootstrap_and_token_lookup(store: Arc<dyn Store>) {
    let hash = [7u8; 32];
    assert!(store.bootstrap_admin("admin", hash).await.unwrap());
    assert!(
        !store.bootstrap_admin("admin", [8u8; 32]).await.unwrap(),
        "only once"
    );
    let p = store
        .principal_for_token(hash, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.user_name, "admin");
    assert!(!p.read_only);
    assert!(
        store
            .principal_for_token([8u8; 32], Timestamp::now())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn feeds_are_unique_and_found_by_id_or_name(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    let dup = Feed {
        id: uuid::Uuid::new_v4().to_string(),
        ..feed.clone()
    };
    assert!(matches!(
        create_feed(&store, &dup).await,
        Err(StoreError::Conflict(_))
    ));
    let c2 = new_feed("C2", None);
    create_feed(&store, &c2).await.unwrap();
    assert_eq!(store.find_feed(&feed.id).await.unwrap(), Some(feed.clone()));
    assert_eq!(store.find_feed("TEST").await.unwrap(), Some(feed.clone()));
    assert_eq!(store.find_feed("test").await.unwrap(), None);
    let names: Vec<_> = store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["TEST", "C2"], "in order of creation");
}

pub async fn versions_keep_first_and_last_whatever_the_order(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    for v in [
        "2024-02-01T00:00:00Z",
        "2024-03-01T00:00:00Z",
        "2024-01-01T00:00:00Z",
    ] {
        store
            .add_objects(add(&feed, vec![obj(A, "indicator", Some(v))]))
            .await
            .unwrap();
    }
    let select = |first, last| ObjectQuery {
        versions: VersionFilter::Select {
            first,
            last,
            at: Vec::new(),
        },
        ..query()
    };
    let first = query_all(&store, &feed.id, &select(true, false))
        .await
        .unwrap();
    assert_eq!(
        first.objects.iter().map(|o| o.version).collect::<Vec<_>>(),
        [ts("2024-01-01T00:00:00Z")]
    );
    let last = query_all(&store, &feed.id, &select(false, true))
        .await
        .unwrap();
    assert_eq!(
        last.objects.iter().map(|o| o.version).collect::<Vec<_>>(),
        [ts("2024-03-01T00:00:00Z")]
    );
    let at = ObjectQuery {
        versions: VersionFilter::Select {
            first: false,
            last: false,
            at: vec![ts("2024-02-01T00:00:00.000Z")],
        },
        ..query()
    };
    assert_eq!(count(&store, &feed, &at).await, 1);
    assert_eq!(count(&store, &feed, &query()).await, 3);
}

pub async fn duplicates_store_nothing_new(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    let s = store
        .add_objects(add(
            &feed,
            vec![
                obj(A, "indicator", Some("2024-01-01T00:00:00Z")),
                obj(A, "indicator", Some("2024-01-01T00:00:00.000Z")),
                obj(C, "ipv4-addr", None),
            ],
        ))
        .await
        .unwrap();
    assert_eq!((s.success_count, s.failure_count, s.total_count), (3, 0, 3));
    assert!(s.successes[0].message.is_none());
    assert!(
        s.successes[1].message.is_some(),
        "the second is reported as already present"
    );
    let again = store
        .add_objects(add(&feed, vec![obj(C, "ipv4-addr", None)]))
        .await
        .unwrap();
    assert!(again.successes[0].message.is_some());
    // The SCO's version is its date_added, reported the same both times.
    assert_eq!(again.successes[0].version, s.successes[2].version);
    assert_eq!(count(&store, &feed, &query()).await, 2);
}

pub async fn date_added_is_strictly_increasing_under_concurrency(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, feed) = (store.clone(), feed.clone());
            tokio::spawn(async move {
                for _ in 0..10 {
                    let objs = (0..25)
                        .map(|_| {
                            obj(
                                &format!("indicator--{}", uuid::Uuid::new_v4()),
                                "indicator",
                                Some("2024-01-01T00:00:00Z"),
                            )
                        })
                        .collect();
                    store.add_objects(add(&feed, objs)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let page = query_all(
        &store,
        &feed.id,
        &ObjectQuery {
            limit: 5000,
            ..query()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.objects.len(), 2000);
    assert!(
        page.objects
            .windows(2)
            .all(|w| w[0].date_added < w[1].date_added)
    );
}

pub async fn queries_page_by_cursor_and_filter(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    let mut objs = Vec::new();
    for i in 0..30 {
        let (ty, id) = if i % 3 == 0 {
            ("malware", format!("malware--{}", uuid::Uuid::new_v4()))
        } else if i % 3 == 1 {
            ("tool", format!("tool--{}", uuid::Uuid::new_v4()))
        } else {
            ("indicator", format!("indicator--{}", uuid::Uuid::new_v4()))
        };
        objs.push(obj(&id, ty, Some("2024-01-01T00:00:00Z")));
    }
    store.add_objects(add(&feed, objs.clone())).await.unwrap();

    // Page through malware+tool, 4 at a time, by cursor.
    let mut q = ObjectQuery {
        limit: 4,
        types: vec!["malware".into(), "tool".into()],
        ..query()
    };
    let mut seen = Vec::new();
    loop {
        let page = query_all(&store, &feed.id, &q).await.unwrap();
        assert!(page.objects.len() <= 4);
        seen.extend(page.objects.iter().map(|o| o.id.clone()));
        if !page.more {
            break;
        }
        q.added_after = page.objects.last().map(|o| o.date_added);
    }
    let expected: Vec<_> = objs
        .iter()
        .filter(|o| o.object_type != "indicator")
        .map(|o| o.id.clone())
        .collect();
    assert_eq!(seen, expected);

    let ids = ObjectQuery {
        ids: vec![objs[4].id.clone(), objs[7].id.clone()],
        ..query()
    };
    let got: Vec<_> = query_all(&store, &feed.id, &ids)
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(got, [objs[4].id.clone(), objs[7].id.clone()]);

    let no_body = ObjectQuery {
        with_body: false,
        limit: 1,
        ..query()
    };
    let page = query_all(&store, &feed.id, &no_body).await.unwrap();
    assert!(page.more && page.objects[0].body.is_none());
    let spec = ObjectQuery {
        spec_versions: vec!["2.0".into()],
        ..query()
    };
    assert!(
        query_all(&store, &feed.id, &spec)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
}

pub async fn delete_remarks_first_and_last(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    for v in [
        "2024-01-01T00:00:00Z",
        "2024-02-01T00:00:00Z",
        "2024-03-01T00:00:00Z",
    ] {
        store
            .add_objects(add(&feed, vec![obj(A, "indicator", Some(v))]))
            .await
            .unwrap();
    }
    store
        .add_objects(add(
            &feed,
            vec![obj(B, "malware", Some("2024-01-01T00:00:00Z"))],
        ))
        .await
        .unwrap();
    let last = VersionFilter::Select {
        first: false,
        last: true,
        at: Vec::new(),
    };
    assert_eq!(delete(&store, &feed.id, A, &last, &[]).await.unwrap(), 1);
    let q = ObjectQuery {
        ids: vec![A.into()],
        versions: last.clone(),
        ..query()
    };
    let now_last = query_all(&store, &feed.id, &q).await.unwrap();
    assert_eq!(now_last.objects[0].version, ts("2024-02-01T00:00:00Z"));
    assert_eq!(
        delete(&store, &feed.id, A, &VersionFilter::All, &[])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        delete(&store, &feed.id, A, &VersionFilter::All, &[])
            .await
            .unwrap(),
        0
    );
    let rest = query_all(&store, &feed.id, &query()).await.unwrap();
    assert_eq!(
        rest.objects
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>(),
        [B]
    );
}

pub async fn status_is_kept(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    let s = store
        .add_objects(add(
            &feed,
            vec![obj(A, "indicator", Some("2024-01-01T00:00:00Z"))],
        ))
        .await
        .unwrap();
    let (owner, again) = store.status(&s.id).await.unwrap().unwrap();
    assert_eq!(owner, 1);
    assert_eq!(again, s);
    assert!(store.status("nope").await.unwrap().is_none());
}

pub async fn closed_store_refuses_work(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    store.close().await;
    assert!(matches!(store.list_feeds().await, Err(StoreError::Closed)));
    assert!(matches!(
        store.add_objects(add(&feed, Vec::new())).await,
        Err(StoreError::Closed)
    ));
}

pub async fn observables_are_indexed_per_current_version(store: Arc<dyn Store>) {
    use relay_core::store::ObservableQuery;
    use stix::observable::{Kind, Observable};
    let feed = seed(&store).await;
    let other = new_feed("OTHER", None);
    create_feed(&store, &other).await.unwrap();
    let mention = |v: &str| Observable {
        kind: Kind::Domain,
        value: v.into(),
    };
    let mut v1 = obj(A, "indicator", Some("2024-01-01T00:00:00Z"));
    v1.observables = vec![mention("a.example"), mention("b.example")];
    let mut v2 = obj(A, "indicator", Some("2024-02-01T00:00:00Z"));
    v2.observables = vec![mention("b.example")];
    store.add_objects(add(&feed, vec![v1])).await.unwrap();
    let mut elsewhere = obj(B, "malware", Some("2024-01-01T00:00:00Z"));
    elsewhere.observables = vec![mention("a.example")];
    store
        .add_objects(add(&other, vec![elsewhere]))
        .await
        .unwrap();
    let q = |values: &[&str], feeds: &[&Feed]| ObservableQuery {
        feeds: feeds.iter().map(|f| (f.id.clone(), all())).collect(),
        kinds: vec!["domain".into()],
        values: values.iter().map(|v| (*v).to_owned()).collect(),
        within: None,
        limit: 100,
    };
    let hits = store
        .search_observables(&q(&["a.example"], &[&feed]))
        .await
        .unwrap();
    assert_eq!(
        hits.iter()
            .map(|h| h.object_id.as_str())
            .collect::<Vec<_>>(),
        [A],
        "only the feeds asked for"
    );
    let both = store
        .search_observables(&q(&["a.example"], &[&feed, &other]))
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    store.add_objects(add(&feed, vec![v2])).await.unwrap();
    assert!(
        store
            .search_observables(&q(&["a.example"], &[&feed]))
            .await
            .unwrap()
            .is_empty()
    );
    let hits = store
        .search_observables(&q(&["b.example"], &[&feed]))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].version, ts("2024-02-01T00:00:00Z"));
    delete(&store, &feed.id, A, &VersionFilter::All, &[])
        .await
        .unwrap();
    assert!(
        store
            .search_observables(&q(&["b.example"], &[&feed]))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_observables(&q(&["b.example"], &[]))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn tokens_expire_and_are_revoked(store: Arc<dyn Store>) {
    assert!(store.bootstrap_admin("admin", [1u8; 32]).await.unwrap());
    let now = Timestamp::now();
    let day = 86_400_000_000;
    let mk = |hash: u8, expires: Option<Timestamp>, read_only: bool| NewToken {
        user_name: "admin".into(),
        name: format!("t{hash}"),
        hash: [hash; 32],
        read_only,
        expires,
    };
    let live = create_token(
        &store,
        mk(2, Some(Timestamp::from_micros(now.as_micros() + day)), true),
    )
    .await
    .unwrap();
    create_token(
        &store,
        mk(3, Some(Timestamp::from_micros(now.as_micros() - 1)), false),
    )
    .await
    .unwrap();
    let p = store
        .principal_for_token([2u8; 32], now)
        .await
        .unwrap()
        .unwrap();
    assert!(p.read_only);
    assert_eq!(p.token_id, live);
    assert!(
        store
            .principal_for_token([3u8; 32], now)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    // The same token, asked about after its expiry.
    let later = Timestamp::from_micros(now.as_micros() + 2 * day);
    assert!(
        store
            .principal_for_token([2u8; 32], later)
            .await
            .unwrap()
            .is_none()
    );
    revoke_token(&store, live, now).await.unwrap();
    assert!(
        store
            .principal_for_token([2u8; 32], now)
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
    assert!(matches!(
        revoke_token(&store, live, now).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        revoke_token(&store, 999, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        create_token(
            &store,
            NewToken {
                user_name: "nobody".into(),
                ..mk(4, None, false)
            }
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    let list = store.list_tokens().await.unwrap();
    assert_eq!(list.len(), 3);
    assert!(list[1].revoked.is_some() && list[1].read_only);
}

fn new_org(name: &str) -> Change {
    Change::CreateOrg {
        org: relay_core::NewOrg {
            name: name.into(),
            kind: relay_core::OrgKind::Member,
            sector: relay_core::Sector::Telecom,
            country: "JP".into(),
            contacts: Vec::new(),
            anonymous: false,
        },
        identity: format!("identity--{}", uuid::Uuid::new_v4()),
    }
}

/// Every TLP, posted by two organisations, TLP:RED with and without a recipient, one of them
/// anonymised: the store's queries and searches must show exactly what `Visibility::permits`
/// allows, and the original body only where `shows_submitter` does.
pub async fn visibility_in_queries_agrees_with_the_policy(store: Arc<dyn Store>) {
    use relay_core::store::ObservableQuery;
    use stix::observable::{Kind, Observable};
    let feed = seed(&store).await;
    let org2 = store
        .apply(new_org("Two"), entry("org.create"))
        .await
        .unwrap();
    let org3 = store
        .apply(new_org("Three"), entry("org.create"))
        .await
        .unwrap();
    let mut expected = Vec::new();
    let mut n = 0;
    for tlp in Tlp::ALL {
        for poster in [org2, org3] {
            for recipients in [vec![], vec![org3]] {
                if tlp != Tlp::Red && !recipients.is_empty() {
                    continue;
                }
                n += 1;
                let id = format!("indicator--00000000-0000-4000-8000-{n:012}");
                let mut o = obj(&id, "indicator", Some("2024-01-01T00:00:00Z"));
                o.tlp = tlp;
                o.recipients = recipients.clone();
                o.observables = vec![Observable {
                    kind: Kind::Domain,
                    value: "shared.example".into(),
                }];
                if n % 3 == 0 {
                    o.original_body = Some(format!("{{\"id\":\"{id}\",\"original\":true}}"));
                }
                let mut request = add(&feed, vec![o]);
                request.poster_org = poster;
                store.add_objects(request).await.unwrap();
                expected.push((id, tlp, poster, recipients, n % 3 == 0));
            }
        }
    }
    let views = [
        all(),
        Visibility {
            everything: false,
            open_up_to: None,
            org: 99,
        },
        Visibility {
            everything: false,
            open_up_to: None,
            org: org3,
        },
        Visibility {
            everything: false,
            open_up_to: Some(Tlp::Clear),
            org: org2,
        },
        Visibility {
            everything: false,
            open_up_to: Some(Tlp::Green),
            org: org3,
        },
        Visibility {
            everything: false,
            open_up_to: Some(Tlp::Amber),
            org: 99,
        },
        Visibility {
            everything: false,
            open_up_to: Some(Tlp::AmberStrict),
            org: 1,
        },
    ];
    for v in &views {
        let page = store
            .query_objects(&[(feed.id.clone(), v.clone())], &query())
            .await
            .unwrap();
        let got: Vec<&str> = page.objects.iter().map(|o| o.id.as_str()).collect();
        let want: Vec<&str> = expected
            .iter()
            .filter(|(_, tlp, poster, rec, _)| v.permits(*tlp, *poster, rec))
            .map(|(id, ..)| id.as_str())
            .collect();
        assert_eq!(got, want, "{v:?}");
        for o in &page.objects {
            let (_, _, poster, _, anonymised) =
                expected.iter().find(|(id, ..)| *id == o.id).unwrap();
            let original = o.body.as_deref().unwrap().contains("\"original\":true");
            assert_eq!(
                original,
                *anonymised && v.shows_submitter(*poster),
                "{v:?} {}",
                o.id
            );
        }
        let hits = store
            .search_observables(&ObservableQuery {
                feeds: vec![(feed.id.clone(), v.clone())],
                kinds: vec!["domain".into()],
                values: vec!["shared.example".into()],
                within: None,
                limit: 1000,
            })
            .await
            .unwrap();
        let mut found: Vec<&str> = hits.iter().map(|h| h.object_id.as_str()).collect();
        found.sort_unstable();
        let mut want = want.clone();
        want.sort_unstable();
        assert_eq!(found, want, "search {v:?}");
    }
}

/// Changes name what is missing or taken and change nothing then; each change that succeeds
/// leaves exactly one audit entry; principals carry their organisation and trust groups.
pub async fn changes_are_checked_and_audited(store: Arc<dyn Store>) {
    use relay_core::{AuditQuery, GranteeName, Role};
    assert!(store.bootstrap_admin("admin", [1u8; 32]).await.unwrap());
    let feed = seed(&store).await; // one audited change
    let org = store
        .apply(new_org("Member"), entry("org.create"))
        .await
        .unwrap();
    assert!(matches!(
        store.apply(new_org("Member"), entry("x")).await,
        Err(StoreError::Conflict(_))
    ));
    let user = |org: &str, name: &str| Change::CreateUser {
        org: org.into(),
        name: name.into(),
        role: Role::Analyst,
        password_hash: None,
    };
    store
        .apply(user("Member", "ana"), entry("user.create"))
        .await
        .unwrap();
    for (change, missing) in [
        (user("Nowhere", "bob"), true),
        (user("Member", "ana"), false),
        (
            Change::AddMember {
                group: "g".into(),
                org: "Member".into(),
            },
            true,
        ),
    ] {
        let r = store.apply(change, entry("x")).await;
        assert!(
            if missing {
                matches!(r, Err(StoreError::NotFound(_)))
            } else {
                matches!(r, Err(StoreError::Conflict(_)))
            },
            "{r:?}"
        );
    }
    let group = store
        .apply(
            Change::CreateGroup { name: "g".into() },
            entry("group.create"),
        )
        .await
        .unwrap();
    let member = Change::AddMember {
        group: "g".into(),
        org: "Member".into(),
    };
    store
        .apply(member.clone(), entry("group.member.add"))
        .await
        .unwrap();
    assert!(matches!(
        store.apply(member, entry("x")).await,
        Err(StoreError::Conflict(_))
    ));
    let grant = |grantee: GranteeName, read| Change::Grant {
        feed: feed.id.clone(),
        grantee,
        read,
        write: true,
    };
    store
        .apply(
            grant(GranteeName::Group("g".into()), true),
            entry("feed.grant"),
        )
        .await
        .unwrap();
    // Granting again replaces the rights.
    store
        .apply(
            grant(GranteeName::Group("g".into()), false),
            entry("feed.grant"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .apply(grant(GranteeName::Org("Nobody".into()), true), entry("x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let f = store.find_feed(&feed.id).await.unwrap().unwrap();
    assert_eq!(f.grants.len(), 1);
    assert!(!f.grants[0].read && f.grants[0].write);

    create_token(
        &store,
        NewToken {
            user_name: "ana".into(),
            name: "t".into(),
            hash: [5u8; 32],
            read_only: false,
            expires: None,
        },
    )
    .await
    .unwrap();
    let p = store
        .principal_for_token([5u8; 32], Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.org_id, p.org_name.as_str(), p.role),
        (org, "Member", Role::Analyst)
    );
    assert_eq!(p.groups, [group]);
    let login = store.login("ana").await.unwrap().unwrap();
    assert_eq!(login.principal.org_id, org);
    assert!(login.password_hash.is_none());

    let log = store
        .audit_log(&AuditQuery {
            since: None,
            after_seq: None,
            action: None,
            limit: 100,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "feed.create",
            "org.create",
            "user.create",
            "group.create",
            "group.member.add",
            "feed.grant",
            "feed.grant",
            "token.create"
        ]
    );
    let paged = store
        .audit_log(&AuditQuery {
            since: None,
            after_seq: Some(log[5].seq),
            action: Some("feed.".into()),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(paged.len(), 1);
}

/// Objects of several feeds share one `date_added` order: a query over several feeds merges
/// them, oldest or newest first, and the live tail returns every commit in that order.
pub async fn feeds_share_one_cursor(store: Arc<dyn Store>) {
    let a = seed(&store).await;
    let b = new_feed("OTHER", None);
    create_feed(&store, &b).await.unwrap();
    assert_eq!(store.last_added().await.unwrap(), None);
    let before = Timestamp::from_micros(i64::MIN);
    for i in 0..6 {
        let feed = if i % 2 == 0 { &a } else { &b };
        let id = format!("indicator--00000000-0000-4000-8000-00000000000{i}");
        store
            .add_objects(add(
                feed,
                vec![obj(&id, "indicator", Some("2024-01-01T00:00:00Z"))],
            ))
            .await
            .unwrap();
    }
    // One POST may also write to several feeds.
    let mut x = obj(
        "indicator--00000000-0000-4000-8000-000000000010",
        "indicator",
        Some("2024-01-01T00:00:00Z"),
    );
    x.feed_id = b.id.clone();
    let y = obj(
        "indicator--00000000-0000-4000-8000-000000000011",
        "indicator",
        Some("2024-01-01T00:00:00Z"),
    );
    store.add_objects(add(&a, vec![x, y])).await.unwrap();

    let both = [(a.id.clone(), all()), (b.id.clone(), all())];
    let page = store.query_objects(&both, &query()).await.unwrap();
    let added: Vec<Timestamp> = page.objects.iter().map(|o| o.date_added).collect();
    assert_eq!(added.len(), 8);
    assert!(
        added.windows(2).all(|w| w[0] < w[1]),
        "unique and increasing"
    );
    let feeds: Vec<&str> = page.objects.iter().map(|o| o.feed_id.as_str()).collect();
    assert_eq!(
        feeds[..6],
        [&a.id, &b.id, &a.id, &b.id, &a.id, &b.id].map(String::as_str)
    );
    assert_eq!(feeds[6..], [b.id.as_str(), a.id.as_str()]);

    let mut newest = query();
    newest.newest_first = true;
    newest.limit = 3;
    let top = store.query_objects(&both, &newest).await.unwrap();
    let top_added: Vec<Timestamp> = top.objects.iter().map(|o| o.date_added).collect();
    assert_eq!(top_added, [added[7], added[6], added[5]]);
    assert!(top.more);

    let tail = store.committed_since(before, 100).await.unwrap();
    assert_eq!(tail.iter().map(|o| o.date_added).collect::<Vec<_>>(), added);
    let rest = store.committed_since(added[5], 100).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].feed_id, b.id);
    assert_eq!(store.last_added().await.unwrap(), Some(added[7]));

    // The newest deleted: what comes next is still added after it (a client's cursor may hold
    // it), and the live tail goes on from it.
    let newest_id = &page.objects[7].id;
    let deleted = delete(&store, &a.id, newest_id, &VersionFilter::All, &[])
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(store.last_added().await.unwrap(), Some(added[7]));
    let z = obj(
        "indicator--00000000-0000-4000-8000-000000000012",
        "indicator",
        Some("2024-01-01T00:00:00Z"),
    );
    store.add_objects(add(&a, vec![z])).await.unwrap();
    let after = store.committed_since(added[7], 100).await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].date_added > added[7]);
    assert_eq!(store.last_added().await.unwrap(), Some(after[0].date_added));
}

/// Corroboration: how many distinct organisations reported what an object mentions, raised on
/// every object that mentions it when another organisation reports it.
pub async fn corroboration_counts_distinct_posters(store: Arc<dyn Store>) {
    use stix::observable::{Kind, Observable};
    let feed = seed(&store).await;
    let ip = |v: &str| Observable {
        kind: Kind::Ipv4,
        value: v.into(),
    };
    let post = |org: i64, id: &str, value: &str| {
        let mut o = obj(id, "indicator", Some("2024-01-01T00:00:00Z"));
        o.observables = vec![ip(value)];
        let mut r = add(&feed, vec![o]);
        r.poster_org = org;
        r
    };
    let ids = [
        "indicator--00000000-0000-4000-8000-000000000001",
        "indicator--00000000-0000-4000-8000-000000000002",
        "indicator--00000000-0000-4000-8000-000000000003",
        "indicator--00000000-0000-4000-8000-000000000004",
    ];
    store
        .add_objects(post(1, ids[0], "192.0.2.1"))
        .await
        .unwrap();
    store
        .add_objects(post(7, ids[1], "192.0.2.1"))
        .await
        .unwrap();
    store
        .add_objects(post(7, ids[2], "192.0.2.1"))
        .await
        .unwrap();
    store
        .add_objects(post(7, ids[3], "192.0.2.2"))
        .await
        .unwrap();
    let mut none = obj(
        "malware--00000000-0000-4000-8000-000000000005",
        "malware",
        Some("2024-01-01T00:00:00Z"),
    );
    none.observables.clear();
    store.add_objects(add(&feed, vec![none])).await.unwrap();
    let page = query_all(&store, &feed.id, &query()).await.unwrap();
    let counts: Vec<u32> = page.objects.iter().map(|o| o.corroboration).collect();
    assert_eq!(counts, [2, 2, 2, 1, 0]);
    let mut q = query();
    q.min_corroboration = Some(2);
    assert_eq!(count(&store, &feed, &q).await, 3);
    let who = store
        .reporters(&["ipv4".into()], &["192.0.2.1".into()])
        .await
        .unwrap();
    assert_eq!(who.len(), 1);
    assert!(who[0].orgs.contains(&"ISAC".to_owned()), "{who:?}");
}

/// Feed settings, routing rules, profiles and webhooks are stored and read back.
pub async fn catalogue_settings_round_trip(store: Arc<dyn Store>) {
    use relay_core::profile::Profile;
    use relay_core::routing::{RuleField, RuleMatch};
    use relay_core::store::{Delivery, NewWebhook, ProfileOwner};
    let feed = seed(&store).await;
    let settings = relay_core::FeedSettings {
        severity: Some(relay_core::Severity::Urgent),
        retired: Some(true),
        ..Default::default()
    };
    store
        .apply(
            Change::UpdateFeed {
                feed: feed.id.clone(),
                settings,
            },
            entry("feed.update"),
        )
        .await
        .unwrap();
    let f = store.find_feed(&feed.id).await.unwrap().unwrap();
    assert_eq!(
        (f.severity, f.retired),
        (relay_core::Severity::Urgent, true)
    );

    let rule = store
        .apply(
            Change::AddRule {
                field: RuleField::Label,
                matching: RuleMatch::Equals,
                value: "banking".into(),
                feed: feed.id.clone(),
            },
            entry("routing.add"),
        )
        .await
        .unwrap();
    let rules = store.list_rules().await.unwrap();
    assert_eq!(
        (rules.len(), rules[0].id, rules[0].feed.as_str()),
        (1, rule, "TEST")
    );
    store
        .apply(Change::RemoveRule { id: rule }, entry("routing.remove"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .apply(Change::RemoveRule { id: rule }, entry("routing.remove"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let capped = Profile {
        max_per_poll: Some(10),
        ..Profile::default()
    };
    store
        .apply(
            Change::SetProfile {
                owner: ProfileOwner::Org("ISAC".into()),
                profile: Some(capped.clone()),
            },
            entry("profile.set"),
        )
        .await
        .unwrap();
    assert_eq!(store.profiles(1, 0).await.unwrap(), (Some(capped), None));
    assert!(matches!(
        store
            .apply(
                Change::SetProfile {
                    owner: ProfileOwner::Token(999),
                    profile: None,
                },
                entry("profile.set"),
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    assert!(store.bootstrap_admin("admin", [3u8; 32]).await.unwrap());
    let t0 = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let hook = store
        .apply(
            Change::CreateWebhook(NewWebhook {
                user_id: 1,
                feed_id: feed.id.clone(),
                url: "http://127.0.0.1:9/hook".into(),
                secret: "s".into(),
                cursor: t0,
            }),
            entry("webhook.create"),
        )
        .await
        .unwrap();
    let attempt = |n: u32, delivered: bool| Delivery {
        webhook: hook,
        at: Timestamp::now(),
        attempt: n,
        objects: 3,
        http_status: Some(if delivered { 200 } else { 503 }),
        error: (!delivered).then(|| "HTTP status 503".into()),
        delivered,
    };
    let t1 = Timestamp::parse("2026-01-02T00:00:00Z").unwrap();
    store
        .record_delivery(attempt(1, false), None)
        .await
        .unwrap();
    store
        .record_delivery(attempt(2, true), Some(t1))
        .await
        .unwrap();
    let log = store.deliveries(hook, 10).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|d| (d.attempt, d.delivered))
            .collect::<Vec<_>>(),
        [(2, true), (1, false)]
    );
    let hooks = store.list_webhooks().await.unwrap();
    assert_eq!(
        (hooks[0].cursor, hooks[0].user_name.as_str()),
        (t1, "admin")
    );
    store
        .apply(
            Change::RemoveWebhook {
                id: hook,
                at: Timestamp::now(),
            },
            entry("webhook.remove"),
        )
        .await
        .unwrap();
    assert!(store.list_webhooks().await.unwrap()[0].removed.is_some());
}

/// Runs an export scan to the end: the version it read at, and every group it sent.
async fn scan_all(
    store: &Arc<dyn Store>,
    scan: relay_core::exchange::ExportScan,
) -> (
    relay_core::exchange::ExportVersion,
    Vec<relay_core::exchange::ExportGroup>,
) {
    let (version_tx, version_rx) = tokio::sync::oneshot::channel();
    let (groups_tx, mut groups_rx) = tokio::sync::mpsc::channel(4);
    let sink = relay_core::exchange::ExportSink {
        version: version_tx,
        groups: groups_tx,
    };
    let s = store.clone();
    let task = tokio::spawn(async move { s.export_scan(scan, sink).await });
    let mut groups = Vec::new();
    while let Some(batch) = groups_rx.recv().await {
        groups.extend(batch);
    }
    task.await.unwrap().unwrap();
    (version_rx.await.unwrap(), groups)
}

fn export_scan(feed: &Feed, vis: Visibility) -> relay_core::exchange::ExportScan {
    relay_core::exchange::ExportScan {
        feeds: vec![(feed.id.clone(), vis)],
        kinds: Vec::new(),
        now: Timestamp::now(),
        active_only: true,
        since: None,
    }
}

/// (kind, value, number of sources, number of applied lists) of each group, in scan order.
fn shape(groups: &[relay_core::exchange::ExportGroup]) -> Vec<(String, String, usize, usize)> {
    groups
        .iter()
        .map(|g| {
            (
                g.kind.clone(),
                g.value.clone(),
                g.sources.len(),
                g.applied.len(),
            )
        })
        .collect()
}

fn row(kind: &str, value: &str, sources: usize, applied: usize) -> (String, String, usize, usize) {
    (kind.into(), value.into(), sources, applied)
}

fn observable(kind: stix::observable::Kind, value: &str) -> stix::observable::Observable {
    stix::observable::Observable {
        kind,
        value: value.into(),
    }
}

/// Exports read the current version of indicators and observable objects only, in (kind,
/// value) order, leave out revoked, expired and invisible sources, and `since` names exactly
/// the observables whose state changed, removed ones included.
pub async fn exports_follow_current_versions(store: Arc<dyn Store>) {
    use stix::observable::Kind;
    let feed = seed(&store).await;
    let member = store
        .apply(new_org("Member"), entry("org.create"))
        .await
        .unwrap();
    let mut v1 = obj(A, "indicator", Some("2024-01-01T00:00:00Z"));
    v1.observables = vec![
        observable(Kind::Ipv4, "192.0.2.1"),
        observable(Kind::Domain, "evil.example"),
        observable(Kind::Email, "x@evil.example"),
        observable(Kind::Hash("SHA-256".into()), &"ab".repeat(32)),
    ];
    v1.confidence = Some(70);
    let mut malware = obj(B, "malware", Some("2024-01-01T00:00:00Z"));
    malware.observables = vec![observable(Kind::Domain, "malware.example")];
    store
        .add_objects(add(&feed, vec![v1, malware]))
        .await
        .unwrap();

    let (first, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert_eq!(
        shape(&groups),
        [
            row("domain", "evil.example", 1, 0),
            row("hash:SHA-256", &"ab".repeat(32), 1, 0),
            row("ipv4", "192.0.2.1", 1, 0),
        ]
    );
    let source = &groups[0].sources[0];
    assert_eq!(
        (source.feed, source.object_type, source.confidence),
        (0, "indicator", Some(70))
    );
    let mut only_domains = export_scan(&feed, all());
    only_domains.kinds = vec!["domain".into()];
    let (_, groups) = scan_all(&store, only_domains).await;
    assert_eq!(shape(&groups), [row("domain", "evil.example", 1, 0)]);

    // A newer version replaces what the object exports.
    let mut v2 = obj(A, "indicator", Some("2024-02-01T00:00:00Z"));
    v2.observables = vec![observable(Kind::Ipv4, "192.0.2.2")];
    store.add_objects(add(&feed, vec![v2])).await.unwrap();
    // An older version arriving late changes nothing.
    let mut v0 = obj(A, "indicator", Some("2023-01-01T00:00:00Z"));
    v0.observables = vec![observable(Kind::Ipv4, "203.0.113.9")];
    store.add_objects(add(&feed, vec![v0])).await.unwrap();
    let (second, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert_eq!(shape(&groups), [row("ipv4", "192.0.2.2", 1, 0)]);
    assert!(second.change > first.change, "{first:?} {second:?}");
    assert_eq!(
        store.export_version(Timestamp::now()).await.unwrap(),
        second
    );

    // Since the first export: what went (with nothing left) and what came.
    let mut since = export_scan(&feed, all());
    since.since = Some(relay_core::exchange::ExportClock {
        change: first.change,
        at: Timestamp::now(),
    });
    let (_, groups) = scan_all(&store, since).await;
    assert_eq!(
        shape(&groups),
        [
            row("domain", "evil.example", 0, 0),
            row("hash:SHA-256", &"ab".repeat(32), 0, 0),
            row("ipv4", "192.0.2.1", 0, 0),
            row("ipv4", "192.0.2.2", 1, 0),
        ]
    );

    // Revoked and expired indicators: only when inactive ones are asked for.
    let mut revoked = obj(C, "indicator", Some("2024-01-01T00:00:00Z"));
    revoked.id = "indicator--44444444-4444-4444-8444-444444444444".into();
    revoked.revoked = true;
    revoked.observables = vec![observable(Kind::Ipv4, "198.51.100.1")];
    let mut expired = obj(C, "indicator", Some("2024-01-01T00:00:00Z"));
    expired.id = "indicator--55555555-5555-4555-8555-555555555555".into();
    expired.valid_until = Some(ts("2024-06-01T00:00:00Z"));
    expired.observables = vec![observable(Kind::Ipv4, "198.51.100.2")];
    // TLP:RED from the ISAC, naming nobody: a member sees none of it.
    let mut red = obj(C, "indicator", Some("2024-01-01T00:00:00Z"));
    red.id = "indicator--66666666-6666-4666-8666-666666666666".into();
    red.tlp = Tlp::Red;
    red.observables = vec![observable(Kind::Ipv4, "198.51.100.3")];
    store
        .add_objects(add(&feed, vec![revoked, expired, red]))
        .await
        .unwrap();
    let (_, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert_eq!(
        shape(&groups),
        [
            row("ipv4", "192.0.2.2", 1, 0),
            row("ipv4", "198.51.100.3", 1, 0)
        ]
    );
    let mut inactive = export_scan(&feed, all());
    inactive.active_only = false;
    let (_, groups) = scan_all(&store, inactive).await;
    assert_eq!(groups.len(), 4, "{:?}", shape(&groups));
    let amber = Visibility {
        everything: false,
        open_up_to: Some(Tlp::Amber),
        org: member,
    };
    let (_, groups) = scan_all(&store, export_scan(&feed, amber)).await;
    assert_eq!(shape(&groups), [row("ipv4", "192.0.2.2", 1, 0)]);

    // Deleting the object removes its entries.
    delete(&store, &feed.id, A, &VersionFilter::All, &[])
        .await
        .unwrap();
    let (_, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert_eq!(shape(&groups), [row("ipv4", "198.51.100.3", 1, 0)]);
}

/// A member's applied list is replaced whole by its next upload, counts in every export it is
/// visible in, stops counting when it expires, and every change is logged for `since`.
pub async fn applied_lists_replace_and_expire(store: Arc<dyn Store>) {
    use relay_core::exchange::AppliedUpload;
    let feed = seed(&store).await;
    let member = store
        .apply(new_org("Member"), entry("org.create"))
        .await
        .unwrap();
    let in_a_month = Timestamp::from_micros(Timestamp::now().as_micros() + 30 * 86_400_000_000);
    let upload = |entries: &[(&str, &str)], expires: Timestamp| AppliedUpload {
        org: member,
        feed_id: feed.id.clone(),
        tlp: Tlp::Green,
        expires,
        entries: entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let replace = |u: AppliedUpload| {
        let store = store.clone();
        async move {
            store
                .apply(Change::ReplaceAppliedList(u), entry("applied.upload"))
                .await
        }
    };
    replace(upload(
        &[("domain", "bad.example"), ("ipv4", "192.0.2.7")],
        in_a_month,
    ))
    .await
    .unwrap();
    let (first, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert_eq!(
        shape(&groups),
        [
            row("domain", "bad.example", 0, 1),
            row("ipv4", "192.0.2.7", 0, 1)
        ]
    );
    assert_eq!(groups[0].applied[0].org, member);
    let list = store.applied_list(member, &feed.id).await.unwrap().unwrap();
    assert_eq!(list.entries.len(), 2);
    assert_eq!(list.expires, in_a_month);

    // The next upload replaces the list: what disappeared is withdrawn.
    replace(upload(&[("ipv4", "192.0.2.7")], in_a_month))
        .await
        .unwrap();
    let (second, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert_eq!(shape(&groups), [row("ipv4", "192.0.2.7", 0, 1)]);
    assert!(second.change > first.change);
    let mut since = export_scan(&feed, all());
    since.since = Some(relay_core::exchange::ExportClock {
        change: first.change,
        at: Timestamp::now(),
    });
    let (_, groups) = scan_all(&store, since).await;
    assert_eq!(
        shape(&groups),
        [
            row("domain", "bad.example", 0, 0),
            row("ipv4", "192.0.2.7", 0, 1)
        ]
    );

    // Another member sees a GREEN list; a TLP:RED list stays its owner's.
    let other = Visibility {
        everything: false,
        open_up_to: Some(Tlp::Amber),
        org: 999,
    };
    let (_, groups) = scan_all(&store, export_scan(&feed, other.clone())).await;
    assert_eq!(groups.len(), 1);
    let mut red = upload(&[("ipv4", "192.0.2.7")], in_a_month);
    red.tlp = Tlp::Red;
    replace(red).await.unwrap();
    let (_, groups) = scan_all(&store, export_scan(&feed, other)).await;
    assert!(groups.is_empty(), "{:?}", shape(&groups));

    // An expired list no longer counts.
    let soon = Timestamp::from_micros(Timestamp::now().as_micros() + 50_000);
    replace(upload(&[("ipv4", "192.0.2.7")], soon))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (_, groups) = scan_all(&store, export_scan(&feed, all())).await;
    assert!(groups.is_empty(), "{:?}", shape(&groups));
    assert!(
        store
            .export_version(Timestamp::now())
            .await
            .unwrap()
            .expired
            >= soon.as_micros()
    );

    // Withdrawing the list; a second withdrawal finds nothing.
    let remove = || Change::RemoveAppliedList {
        org: member,
        feed_id: feed.id.clone(),
    };
    store
        .apply(remove(), entry("applied.withdraw"))
        .await
        .unwrap();
    assert!(
        store
            .applied_list(member, &feed.id)
            .await
            .unwrap()
            .is_none()
    );
    let again = store.apply(remove(), entry("applied.withdraw")).await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
}

/// The allowlist and members' own networks and domains: added, listed, removed once.
pub async fn allowlist_and_assets_round_trip(store: Arc<dyn Store>) {
    use relay_core::exchange::AssetKind;
    seed(&store).await;
    let member = store
        .apply(new_org("Member"), entry("org.create"))
        .await
        .unwrap();
    let allow = |value: &str| Change::AddAllowlist {
        kind: AssetKind::Domain,
        value: value.into(),
        reason: "a resolver".into(),
    };
    let id = store
        .apply(allow("dns.example"), entry("allow.add"))
        .await
        .unwrap();
    let twice = store.apply(allow("dns.example"), entry("allow.add")).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let list = store.list_allowlist().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].id,
            list[0].kind,
            list[0].value.as_str(),
            list[0].reason.as_str()
        ),
        (id, AssetKind::Domain, "dns.example", "a resolver")
    );
    store
        .apply(Change::RemoveAllowlist { id }, entry("allow.remove"))
        .await
        .unwrap();
    assert!(store.list_allowlist().await.unwrap().is_empty());
    let gone = store
        .apply(Change::RemoveAllowlist { id }, entry("allow.remove"))
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");

    let asset = |org: &str, kind, value: &str| Change::AddOrgAsset {
        org: org.into(),
        kind,
        value: value.into(),
        valid_from: None,
        valid_until: None,
    };
    let net = store
        .apply(
            asset("Member", AssetKind::Cidr, "198.51.100.0/24"),
            entry("asset.add"),
        )
        .await
        .unwrap();
    store
        .apply(
            asset("Member", AssetKind::Domain, "member.example"),
            entry("asset.add"),
        )
        .await
        .unwrap();
    store
        .apply(
            asset("ISAC", AssetKind::Cidr, "203.0.113.0/24"),
            entry("asset.add"),
        )
        .await
        .unwrap();
    let unknown = store
        .apply(
            asset("Nobody", AssetKind::Cidr, "192.0.2.0/24"),
            entry("asset.add"),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    let mine = store.org_assets(Some(member)).await.unwrap();
    let values: Vec<(&str, AssetKind, i64)> = mine
        .iter()
        .map(|a| (a.value.as_str(), a.kind, a.org))
        .collect();
    assert_eq!(
        values,
        [
            ("198.51.100.0/24", AssetKind::Cidr, member),
            ("member.example", AssetKind::Domain, member)
        ]
    );
    assert_eq!(mine[0].org_name, "Member");
    assert_eq!(store.org_assets(None).await.unwrap().len(), 3);
    let at = Timestamp::now();
    store
        .apply(
            Change::RemoveOrgAsset { id: net, at },
            entry("asset.remove"),
        )
        .await
        .unwrap();
    let mine = store.org_assets(Some(member)).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].value, "member.example");
    let gone = store
        .apply(
            Change::RemoveOrgAsset { id: net, at },
            entry("asset.remove"),
        )
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
}

/// Campaigns snapshot the networks valid at their start; findings are stored under the ids
/// given, merged only into a stored finding with the same key, scoped by organisation, moved
/// through their lifecycle, counted for reports; uploads are recorded.
pub async fn campaigns_and_findings(store: Arc<dyn Store>) {
    use relay_core::exchange::AssetKind;
    use relay_core::notice::{
        CampaignKind, FindingBlock, FindingKind, FindingQuery, FindingStatus, FindingsBatch, Merge,
        NewCampaign, NewFinding, StatusUpdate, UploadRecord,
    };
    seed(&store).await;
    let a = store
        .apply(new_org("IspA"), entry("org.create"))
        .await
        .unwrap();
    let b = store
        .apply(new_org("IspB"), entry("org.create"))
        .await
        .unwrap();
    let net = |org: &str, value: &str, until: Option<&str>| Change::AddOrgAsset {
        org: org.into(),
        kind: AssetKind::Cidr,
        value: value.into(),
        valid_from: None,
        valid_until: until.map(ts),
    };
    for c in [
        net("IspA", "198.18.0.0/16", None),
        net("IspB", "198.19.0.0/16", None),
        net("IspB", "203.0.113.0/24", Some("2020-01-01T00:00:00Z")),
    ] {
        store.apply(c, entry("asset.add")).await.unwrap();
    }
    store
        .apply(
            Change::AddOrgAsset {
                org: "IspB".into(),
                kind: AssetKind::Asn,
                value: "AS64500".into(),
                valid_from: None,
                valid_until: None,
            },
            entry("asset.add"),
        )
        .await
        .unwrap();
    let new = |name: &str| {
        Change::CreateCampaign(NewCampaign {
            name: name.into(),
            kind: CampaignKind::Monthly,
            schedule: Some("results by the 20th".into()),
            at: Timestamp::now(),
        })
    };
    let id = store
        .apply(new("2026-11"), entry("campaign.create"))
        .await
        .unwrap();
    let again = store.apply(new("2026-11"), entry("campaign.create")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let campaigns = store.campaigns().await.unwrap();
    assert_eq!(campaigns.len(), 1);
    assert_eq!((campaigns[0].id, campaigns[0].ranges), (id, 2));
    assert_eq!(
        store.campaign("2026-11").await.unwrap().as_ref(),
        campaigns.first()
    );
    assert!(store.campaign("2026-12").await.unwrap().is_none());
    let ranges = store.campaign_ranges(id).await.unwrap();
    let nets: Vec<(&str, i64)> = ranges.iter().map(|r| (r.net.as_str(), r.org)).collect();
    assert_eq!(nets, [("198.18.0.0/16", a), ("198.19.0.0/16", b)]);

    assert_eq!(store.last_finding_id().await.unwrap(), 0);
    let kinds: std::sync::Arc<[FindingKind]> = vec![FindingKind {
        protocol: "tcp".into(),
        finding: "telnet-login-prompt".into(),
    }]
    .into();
    let new = |ip: &str, at: &str| NewFinding {
        ip: ip.parse().unwrap(),
        prefix_len: 16,
        port: 23,
        kind: 0,
        first_observed: ts(at),
        last_observed: ts(at),
        times_seen: 1,
        detail: None,
    };
    let block = |org: i64, first_id: i64, findings: Vec<NewFinding>| FindingBlock {
        org,
        first_id,
        kinds: kinds.clone(),
        findings,
    };
    let merge = |into: i64, org: i64, at: &str| Merge {
        into,
        org,
        observed: ts(at),
        detail: None,
    };
    let day = "2026-11-20T00:00:00Z";
    let added = store
        .add_findings(
            id,
            FindingsBatch {
                blocks: vec![
                    block(a, 1, vec![new("198.18.0.1", day), new("198.18.0.2", day)]),
                    block(b, 3, vec![new("198.19.0.1", day)]),
                ],
                merges: Vec::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!((added.added, added.merged), (3, 0));
    // Id 4 unused (reserved by a writer that stored nothing), a merge into a stored finding.
    let added = store
        .add_findings(
            id,
            FindingsBatch {
                blocks: vec![block(b, 5, vec![new("198.19.0.9", "2026-11-21T00:00:00Z")])],
                merges: vec![merge(1, a, "2026-11-22T00:00:00Z")],
            },
        )
        .await
        .unwrap();
    assert_eq!((added.added, added.merged), (1, 1));
    assert_eq!(store.last_finding_id().await.unwrap(), 5);
    // Refused whole: a merge into another organisation's finding, or into none; ids taken.
    for refused in [
        FindingsBatch {
            blocks: vec![block(a, 6, vec![new("198.18.0.3", day)])],
            merges: vec![merge(3, a, day)],
        },
        FindingsBatch {
            blocks: Vec::new(),
            merges: vec![merge(4, b, day)],
        },
        FindingsBatch {
            blocks: vec![block(a, 5, vec![new("198.18.0.3", day)])],
            merges: Vec::new(),
        },
    ] {
        let r = store.add_findings(id, refused).await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    }
    assert_eq!(store.last_finding_id().await.unwrap(), 5);
    let page = |org: Option<i64>, status: Option<FindingStatus>| {
        let store = store.clone();
        async move {
            store
                .findings(&FindingQuery {
                    org,
                    campaign: Some(id),
                    status,
                    after: 0,
                    limit: 100,
                    ids: Vec::new(),
                })
                .await
                .unwrap()
        }
    };
    let mine = page(Some(a), None).await;
    let ips: Vec<&str> = mine.iter().map(|f| f.ip.as_str()).collect();
    assert_eq!(ips, ["198.18.0.1", "198.18.0.2"]);
    assert_eq!(mine[0].times_seen, 2);
    assert_eq!(mine[0].last_observed, ts("2026-11-22T00:00:00Z"));
    assert_eq!(
        (mine[0].campaign.as_str(), mine[0].org_name.as_str()),
        ("2026-11", "IspA")
    );
    assert_eq!(page(None, None).await.len(), 4);
    let paged = store
        .findings(&FindingQuery {
            org: None,
            campaign: None,
            status: None,
            after: 2,
            limit: 1,
            ids: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(paged.iter().map(|f| f.id).collect::<Vec<_>>(), [3]);
    // By ids, within an organisation: another's id is not there.
    let named = store
        .findings(&FindingQuery {
            org: Some(a),
            campaign: None,
            status: None,
            after: 0,
            limit: 10,
            ids: vec![2, 3, 99],
        })
        .await
        .unwrap();
    assert_eq!(named.iter().map(|f| f.id).collect::<Vec<_>>(), [2]);

    // Publication: new findings wait beyond the cursor; a finding changed after it was
    // published waits in the queue, until its current version is marked published.
    let waiting = store.unpublished_findings(100).await.unwrap();
    assert_eq!(waiting.findings.len(), 4);
    assert_eq!(waiting.through, 5);
    assert_eq!(
        waiting.findings[0].version, 2,
        "the merge made a second version"
    );
    let first = store.unpublished_findings(2).await.unwrap();
    assert_eq!(
        first.findings.iter().map(|f| f.id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(first.through, 2);
    let done: Vec<(i64, u32)> = waiting.findings.iter().map(|f| (f.id, f.version)).collect();
    store
        .apply(
            Change::MarkPublished {
                through: waiting.through,
                done,
            },
            entry("notice.publish"),
        )
        .await
        .unwrap();
    let unpublished = || {
        let store = store.clone();
        async move { store.unpublished_findings(100).await.unwrap().findings }
    };
    assert!(unpublished().await.is_empty());

    // Status: scoped to an organisation, others' ids untouched.
    let update = |org: Option<i64>, fid: i64, status: FindingStatus| Change::UpdateFindings {
        org,
        updates: vec![StatusUpdate {
            id: fid,
            status,
            note: Some("called".into()),
        }],
        at: Timestamp::now(),
    };
    let n = store
        .apply(
            update(Some(a), 3, FindingStatus::Notified),
            entry("findings.update"),
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n = store
        .apply(
            update(Some(a), 1, FindingStatus::Notified),
            entry("findings.update"),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let again: Vec<i64> = unpublished().await.iter().map(|f| f.id).collect();
    assert_eq!(again, [1], "a status change publishes again");
    let notified = page(None, Some(FindingStatus::Notified)).await;
    assert_eq!(notified.len(), 1);
    assert_eq!(notified[0].status_note.as_deref(), Some("called"));
    assert!(notified[0].status_at.is_some());

    let counts = store
        .finding_counts(ts("2026-11-01T00:00:00Z"), ts("2026-12-01T00:00:00Z"), None)
        .await
        .unwrap();
    let rows: Vec<(&str, FindingStatus, u64)> = counts
        .iter()
        .map(|c| (c.org_name.as_str(), c.status, c.count))
        .collect();
    assert_eq!(
        rows,
        [
            ("IspA", FindingStatus::New, 1),
            ("IspA", FindingStatus::Notified, 1),
            ("IspB", FindingStatus::New, 2)
        ]
    );
    let october = store
        .finding_counts(
            ts("2026-10-01T00:00:00Z"),
            ts("2026-11-01T00:00:00Z"),
            Some(a),
        )
        .await
        .unwrap();
    assert!(october.is_empty());

    let record = UploadRecord {
        campaign: id,
        uploader: "scanner".into(),
        at: Some(ts("2026-11-20T00:00:00Z")),
        lines: 7,
        added: 4,
        merged: 1,
        unmatched: 1,
        malformed: 1,
        errors: vec!["line 7: not an IP address".into()],
    };
    store
        .apply(
            Change::RecordUpload(record.clone()),
            entry("campaign.upload"),
        )
        .await
        .unwrap();
    assert_eq!(store.uploads(id).await.unwrap(), [record]);
}

/// Metrics from a history with known answers: who reported what first (directly, by a
/// sighting's reference, after a report metrics do not count), coverage, lead times (from the
/// stored objects' own `date_added`; none after a report the poster could not read), first
/// reports of C2 servers; a recomputation from the reports gives the same figures.
pub async fn metrics_from_a_known_history(store: Arc<dyn Store>) {
    use relay_core::metrics::{Category, MetricsInput};
    use stix::observable::{Kind, Observable};
    let feed = seed(&store).await;
    let [a, b, c] = {
        let mut ids = [0; 3];
        for (i, name) in ["OrgA", "OrgB", "OrgC"].iter().enumerate() {
            ids[i] = store
                .apply(new_org(name), entry("org.create"))
                .await
                .unwrap();
        }
        ids
    };
    let ob = |kind: Kind, v: &str| Observable {
        kind,
        value: v.into(),
    };
    let n = std::sync::atomic::AtomicU32::new(0);
    // Posts one object; returns its id.
    let post = |org: i64, observables: Vec<Observable>, metrics: Option<MetricsInput>| {
        let id = format!(
            "indicator--00000000-0000-4000-8000-{:012}",
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut o = obj(&id, "indicator", Some("2026-01-01T00:00:00Z"));
        o.observables = observables;
        o.metrics = metrics;
        let mut r = add(&feed, vec![o]);
        r.poster_org = org;
        let store = store.clone();
        async move {
            store.add_objects(r).await.unwrap();
            id
        }
    };
    let counted = |category: Option<Category>, refs: &[&str]| {
        Some(MetricsInput {
            category,
            reported_refs: refs.iter().map(|r| (*r).to_owned()).collect(),
        })
    };
    let (ip1, ip2, ip3) = (
        ob(Kind::Ipv4, "198.51.100.1"),
        ob(Kind::Ipv4, "198.51.100.2"),
        ob(Kind::Ipv4, "198.51.100.3"),
    );
    let dom = ob(Kind::Domain, "evil.example");
    let first = post(
        a,
        vec![ip1.clone(), dom.clone()],
        counted(Some(Category::C2), &[]),
    )
    .await;
    let second = post(b, vec![ip1.clone()], counted(None, &[])).await;
    let sighting = post(c, Vec::new(), counted(None, &[&first])).await;
    post(b, vec![ip2.clone()], counted(None, &[])).await;
    post(a, vec![ip1.clone()], counted(None, &[])).await;
    // Where metrics do not look, then where they do: counted from the second.
    post(c, vec![ip3.clone()], None).await;
    let late = post(c, vec![ip3.clone()], counted(None, &[])).await;

    // A sighting of an object where its poster may not look reports nothing.
    let mut blind = add(
        &feed,
        vec![obj(
            &format!("sighting--00000000-0000-4000-8000-{:012}", 99),
            "sighting",
            Some("2026-01-01T00:00:00Z"),
        )],
    );
    blind.objects[0].metrics = counted(None, &[&first]);
    blind.poster_org = b;
    blind.read_scope.clear();
    store.add_objects(blind).await.unwrap();
    // A report after one its poster could not read: counted, shared, not preceded.
    let mut unseen = add(
        &feed,
        vec![obj(
            &format!("indicator--00000000-0000-4000-8000-{:012}", 98),
            "indicator",
            Some("2026-01-01T00:00:00Z"),
        )],
    );
    unseen.objects[0].observables = vec![dom.clone()];
    unseen.objects[0].metrics = counted(None, &[]);
    unseen.poster_org = b;
    unseen.read_scope.clear();
    store.add_objects(unseen).await.unwrap();

    let page = query_all(&store, &feed.id, &query()).await.unwrap();
    let added = |id: &str| {
        page.objects
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.date_added.as_micros())
            .unwrap()
    };
    let figures = |cov: &relay_core::metrics::Coverage| {
        let orgs: Vec<(i64, String, u64, u64, u64)> = cov
            .orgs
            .iter()
            .map(|o| (o.org, o.kind.clone(), o.reported, o.unique, o.preceded))
            .collect();
        let pairs: Vec<(String, i64, i64, u64)> = cov
            .pairs
            .iter()
            .map(|p| (p.kind.clone(), p.a, p.b, p.shared))
            .collect();
        (orgs, pairs)
    };
    let (ipv4, domain) = ("ipv4".to_owned(), "domain".to_owned());
    let coverage = store.metric_coverage().await.unwrap();
    let (orgs, pairs) = figures(&coverage);
    assert_eq!(
        orgs,
        [
            (a, domain.clone(), 1, 0, 0),
            (a, ipv4.clone(), 1, 0, 0),
            (b, domain.clone(), 1, 0, 0),
            (b, ipv4.clone(), 2, 1, 1),
            (c, domain.clone(), 1, 0, 1),
            (c, ipv4.clone(), 2, 1, 1),
        ]
    );
    assert_eq!(
        pairs,
        [
            (domain.clone(), a, b, 1),
            (domain.clone(), a, c, 1),
            (domain.clone(), b, c, 1),
            (ipv4.clone(), a, b, 1),
            (ipv4.clone(), a, c, 1),
            (ipv4.clone(), b, c, 1),
        ]
    );
    let leads = store.metric_leads(None).await.unwrap();
    let got: Vec<(i64, String, u64, i64, i64)> = leads
        .iter()
        .map(|l| (l.org, l.kind.clone(), l.count, l.p50_micros, l.p90_micros))
        .collect();
    let b_lead = added(&second) - added(&first);
    let c_lead = added(&sighting) - added(&first);
    assert!(added(&late) > added(&sighting));
    assert_eq!(
        got,
        [
            (b, ipv4.clone(), 1, b_lead, b_lead),
            (c, domain.clone(), 1, c_lead, c_lead),
            (c, ipv4.clone(), 1, c_lead, c_lead),
        ]
    );
    assert_eq!(store.metric_leads(Some(a)).await.unwrap(), []);

    let firsts_in = |from: Timestamp| {
        let store = store.clone();
        async move {
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let into = seen.clone();
            let n = store
                .first_reports(
                    from,
                    Timestamp::now(),
                    Box::new(move |f| into.lock().unwrap().push(f)),
                )
                .await
                .unwrap();
            let all = std::mem::take(&mut *seen.lock().unwrap());
            assert_eq!(n as usize, all.len());
            all
        }
    };
    let all = firsts_in(Timestamp::from_micros(0)).await;
    let firsts: Vec<(&str, &str, i64, i64, &str, Category)> = all
        .iter()
        .map(|f| {
            (
                f.kind.as_str(),
                f.value.as_str(),
                f.at.as_micros(),
                f.org,
                f.feed.as_str(),
                f.category,
            )
        })
        .collect();
    let t1 = added(&first);
    let mut want = vec![
        (
            "domain",
            "evil.example",
            t1,
            a,
            feed.name.as_str(),
            Category::C2,
        ),
        (
            "ipv4",
            "198.51.100.1",
            t1,
            a,
            feed.name.as_str(),
            Category::C2,
        ),
    ];
    want.sort();
    let mut firsts = firsts;
    firsts.sort();
    assert_eq!(firsts, want);
    assert_eq!(all[0].sector, "telecom");
    let none = firsts_in(Timestamp::from_micros(t1 + 1)).await;
    assert!(none.is_empty());

    // Rebuilt from the reports: the same figures.
    let reports = store
        .apply(Change::RecomputeMetrics, entry("metrics.recompute"))
        .await
        .unwrap();
    assert_eq!(
        reports, 8,
        "a: ip1, domain; b: ip1, ip2, domain; c: ip1, domain, ip3"
    );
    assert_eq!(
        figures(&store.metric_coverage().await.unwrap()),
        (orgs, pairs)
    );
    assert_eq!(store.metric_leads(None).await.unwrap(), leads);
}

/// What refers to an object: current versions only, in the caller's visibility, newest first;
/// deleted objects drop out. And a page newest first below a cursor (`added_before`).
pub async fn references_and_backward_pages(store: Arc<dyn Store>) {
    let feed = seed(&store).await;
    let rel = "relationship--44444444-4444-4444-8444-444444444444";
    let sighting = "sighting--55555555-5555-4555-8555-555555555555";
    let mut r1 = obj(rel, "relationship", Some("2024-01-01T00:00:00.000Z"));
    r1.refs = vec![A.to_owned(), B.to_owned()];
    let mut r2 = obj(rel, "relationship", Some("2024-02-01T00:00:00.000Z"));
    r2.refs = vec![A.to_owned(), B.to_owned()];
    store
        .add_objects(add(
            &feed,
            vec![obj(B, "malware", Some("2024-01-01T00:00:00.000Z")), r1],
        ))
        .await
        .unwrap();
    let mut s = obj(sighting, "sighting", Some("2024-01-05T00:00:00.000Z"));
    s.refs = vec![B.to_owned()];
    s.tlp = Tlp::Amber;
    let mut by_other = add(&feed, vec![s]);
    by_other.poster_org = 2;
    store.add_objects(by_other).await.unwrap();
    store.add_objects(add(&feed, vec![r2])).await.unwrap();

    let scope = [(feed.id.clone(), all())];
    let ids = |v: Vec<relay_core::StoredObject>| -> Vec<(String, String)> {
        v.into_iter()
            .map(|o| (o.id, o.version.to_string()))
            .collect()
    };
    assert_eq!(
        ids(store.referencing(&scope, B, 10).await.unwrap()),
        vec![
            (rel.to_owned(), "2024-02-01T00:00:00.000000Z".to_owned()),
            (
                sighting.to_owned(),
                "2024-01-05T00:00:00.000000Z".to_owned()
            ),
        ],
        "the current version of each, newest first"
    );
    assert_eq!(store.referencing(&scope, B, 1).await.unwrap().len(), 1);
    assert!(store.referencing(&scope, C, 10).await.unwrap().is_empty());
    // A member without AMBER in this feed does not see the other poster's sighting.
    let green_only = Visibility {
        everything: false,
        open_up_to: Some(Tlp::Green),
        org: 1,
    };
    let member = [(feed.id.clone(), green_only)];
    assert_eq!(
        ids(store.referencing(&member, B, 10).await.unwrap()),
        vec![(rel.to_owned(), "2024-02-01T00:00:00.000000Z".to_owned())]
    );
    // A deleted relationship no longer refers to anything.
    delete(&store, &feed.id, rel, &VersionFilter::All, &[])
        .await
        .unwrap();
    assert_eq!(
        ids(store.referencing(&scope, B, 10).await.unwrap()),
        vec![(
            sighting.to_owned(),
            "2024-01-05T00:00:00.000000Z".to_owned()
        )]
    );

    // Newest first, then the page below the newest.
    let newest = ObjectQuery {
        newest_first: true,
        limit: 1,
        ..query()
    };
    let first = query_all(&store, &feed.id, &newest).await.unwrap();
    assert_eq!(first.objects[0].id, sighting);
    assert!(first.more);
    let below = ObjectQuery {
        added_before: Some(first.objects[0].date_added),
        ..newest
    };
    let second = query_all(&store, &feed.id, &below).await.unwrap();
    assert_eq!(second.objects[0].id, B);
    assert!(!second.more);
}

/// Federation peers: stored with their credentials, one per name; progress moves the cursor
/// forward only and keeps the last error; objects remember the peer they came from, and a
/// query can leave out what came from given peers or was posted by an organisation.
pub async fn peers_and_their_progress(store: Arc<dyn Store>) {
    use relay_core::federation::{Direction, NewPeer, PeerAuth, PeerProgress};
    let feed = seed(&store).await;
    let spec = NewPeer {
        name: "upstream".into(),
        direction: Direction::Pull,
        api_root: "https://isac.example/taxii2/r/".into(),
        collection: "c1".into(),
        auth: PeerAuth::Basic {
            user: "relay".into(),
            password: "s3cret".into(),
        },
        client_cert: None,
        feeds: vec![feed.id.clone()],
        default_tlp: Some(Tlp::Green),
        max_tlp: Tlp::Green,
        types: vec!["indicator".into()],
        min_severity: None,
        peer_org: Some(7),
        interval_secs: 60,
    };
    store
        .apply(Change::AddPeer(spec.clone()), entry("peer.add"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .apply(Change::AddPeer(spec.clone()), entry("peer.add"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let peers = store.peers().await.unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].spec, spec, "stored as given, credentials included");
    assert_eq!(peers[0].cursor, None);
    let id = peers[0].id;
    let step = |cursor: Option<&str>, n, error: Option<&str>| PeerProgress {
        at: Timestamp::now(),
        cursor: cursor.map(ts),
        transferred: n,
        error: error.map(str::to_owned),
    };
    store
        .record_peer_progress(id, step(Some("2026-01-02T00:00:00Z"), 5, None))
        .await
        .unwrap();
    store
        .record_peer_progress(id, step(Some("2026-01-01T00:00:00Z"), 2, None))
        .await
        .unwrap();
    store
        .record_peer_progress(id, step(None, 0, Some("the peer answered 503")))
        .await
        .unwrap();
    let p = &store.peers().await.unwrap()[0];
    assert_eq!(p.cursor, Some(ts("2026-01-02T00:00:00Z")), "only forward");
    assert_eq!(p.transferred, 7);
    assert_eq!(p.last_error.as_deref(), Some("the peer answered 503"));
    assert!(p.last_success.is_some() && p.last_run >= p.last_success);
    assert!(matches!(
        store
            .record_peer_progress(id + 1, step(None, 0, None))
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Provenance and the push filters.
    let mut pulled = obj(A, "indicator", Some("2024-01-01T00:00:00.000Z"));
    pulled.source_peer = Some(id);
    let mut theirs = add(
        &feed,
        vec![obj(B, "malware", Some("2024-01-01T00:00:00.000Z"))],
    );
    theirs.poster_org = 7;
    store.add_objects(add(&feed, vec![pulled])).await.unwrap();
    store.add_objects(theirs).await.unwrap();
    store
        .add_objects(add(&feed, vec![obj(C, "ipv4-addr", None)]))
        .await
        .unwrap();
    let ids_of =
        |page: ObjectPage| -> Vec<String> { page.objects.into_iter().map(|o| o.id).collect() };
    let all_three = query_all(&store, &feed.id, &query()).await.unwrap();
    assert_eq!(all_three.objects.len(), 3);
    let q = ObjectQuery {
        exclude_sources: vec![id],
        exclude_posters: vec![7],
        ..query()
    };
    assert_eq!(
        ids_of(query_all(&store, &feed.id, &q).await.unwrap()),
        vec![C]
    );

    store
        .apply(
            Change::RemovePeer {
                name: "upstream".into(),
            },
            entry("peer.remove"),
        )
        .await
        .unwrap();
    // Kept as a tombstone, under a name that frees the old one; its id is never reused.
    let kept = store.peers().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].removed.is_some() && kept[0].spec.name != "upstream");
    assert!(matches!(
        store
            .apply(
                Change::RemovePeer {
                    name: "upstream".into()
                },
                entry("peer.remove")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .apply(Change::AddPeer(spec), entry("peer.add"))
        .await
        .unwrap();
    let peers = store.peers().await.unwrap();
    assert_eq!(peers.len(), 2);
    assert!(peers[1].id > id && peers[1].removed.is_none());
}

/// A search for a network finds the addresses and smaller networks inside it (IPv4 and IPv6),
/// not those outside or of the other family; deleted versions drop out.
pub async fn addresses_inside_a_network(store: Arc<dyn Store>) {
    use relay_core::store::ObservableQuery;
    use stix::observable::{Kind, Observable};
    let feed = seed(&store).await;
    let address = |kind: Kind, v: &str| Observable {
        kind,
        value: v.into(),
    };
    let ids = [
        "indicator--a1111111-1111-4111-8111-111111111111",
        "indicator--a2222222-2222-4222-8222-222222222222",
        "indicator--a3333333-3333-4333-8333-333333333333",
        "indicator--a4444444-4444-4444-8444-444444444444",
    ];
    let values = [
        (Kind::Ipv4, "198.51.100.23"),
        (Kind::Ipv4, "198.51.100.128/25"),
        (Kind::Ipv4, "198.51.101.1"),
        (Kind::Ipv6, "2001:db8::1"),
    ];
    for (id, (kind, v)) in ids.iter().zip(values) {
        let mut o = obj(id, "indicator", Some("2024-01-01T00:00:00Z"));
        o.observables = vec![address(kind, v)];
        store.add_objects(add(&feed, vec![o])).await.unwrap();
    }
    let inside = |net: &str| {
        let (kind, lo, hi) = stix::observable::ip_range(net).unwrap();
        ObservableQuery {
            feeds: vec![(feed.id.clone(), all())],
            kinds: Vec::new(),
            values: Vec::new(),
            within: Some((kind.to_string(), lo, hi)),
            limit: 100,
        }
    };
    let found = |hits: Vec<relay_core::store::ObservableHit>| {
        let mut v: Vec<String> = hits.into_iter().map(|h| h.value).collect();
        v.sort();
        v
    };
    assert_eq!(
        found(
            store
                .search_observables(&inside("198.51.100.0/24"))
                .await
                .unwrap()
        ),
        ["198.51.100.128/25", "198.51.100.23"]
    );
    assert_eq!(
        found(
            store
                .search_observables(&inside("198.51.100.0/25"))
                .await
                .unwrap()
        ),
        ["198.51.100.23"]
    );
    assert_eq!(
        found(
            store
                .search_observables(&inside("198.51.0.0/16"))
                .await
                .unwrap()
        )
        .len(),
        3
    );
    assert_eq!(
        found(
            store
                .search_observables(&inside("2001:db8::/32"))
                .await
                .unwrap()
        ),
        ["2001:db8::1"]
    );
    delete(&store, &feed.id, ids[0], &VersionFilter::All, &[])
        .await
        .unwrap();
    assert_eq!(
        found(
            store
                .search_observables(&inside("198.51.100.0/24"))
                .await
                .unwrap()
        ),
        ["198.51.100.128/25"]
    );
}

pub async fn leases_hold_one_job_for_one_holder(store: Arc<dyn Store>) {
    let t = |s: u32| Timestamp::from_micros(i64::from(s) * 1_000_000);
    // Free: the first node takes it; the second cannot while it lasts.
    assert!(
        store
            .lease("webhooks", "node-a", t(0), t(30))
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease("webhooks", "node-b", t(10), t(40))
            .await
            .unwrap()
    );
    // Another job is another lease.
    assert!(
        store
            .lease("federation", "node-b", t(10), t(40))
            .await
            .unwrap()
    );
    // The holder renews it; the other still cannot take it before the renewed end.
    assert!(
        store
            .lease("webhooks", "node-a", t(20), t(50))
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease("webhooks", "node-b", t(45), t(75))
            .await
            .unwrap()
    );
    // Once it has passed unrenewed (node-a died), node-b takes it, and node-a has lost it.
    assert!(
        store
            .lease("webhooks", "node-b", t(50), t(80))
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease("webhooks", "node-a", t(60), t(90))
            .await
            .unwrap()
    );
}
