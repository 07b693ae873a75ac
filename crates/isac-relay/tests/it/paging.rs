//! Paging with `next` and with `added_after`: every object exactly once, in `date_added`
//! order, also while other clients post.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn post_many(app: &TestApp, envelopes: usize, per: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..envelopes {
        let objs: Vec<Value> = (0..per)
            .map(|_| {
                let id = new_id("indicator");
                ids.push(id.clone());
                indicator(&id, "2024-01-01T00:00:00.000Z")
            })
            .collect();
        app.post_ok(&objs).await;
    }
    ids
}

#[tokio::test]
async fn next_pages_through_everything_once_in_order() {
    let app = spawn_app().await;
    let posted = post_many(&app, 5, 5).await;
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut last_header = String::new();
    loop {
        let mut path = format!("{}?limit=7", app.objects_path());
        if let Some(n) = &next {
            path.push_str(&format!("&next={n}"));
        }
        let r = app.get(&path).await;
        assert_eq!(r.status(), StatusCode::OK);
        let first = r.headers()["x-taxii-date-added-first"]
            .to_str()
            .unwrap()
            .to_owned();
        let last = r.headers()["x-taxii-date-added-last"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(first > last_header, "pages do not overlap");
        assert!(last >= first);
        last_header = last;
        let env: Value = r.json().await.unwrap();
        let page = ids_of(&env);
        assert!(page.len() <= 7);
        seen.extend(page);
        if env["more"] == true {
            next = Some(
                env["next"]
                    .as_str()
                    .expect("more comes with next")
                    .to_owned(),
            );
        } else {
            assert!(env.get("next").is_none());
            break;
        }
    }
    assert_eq!(seen, posted);
}

#[tokio::test]
async fn added_after_the_last_header_never_skips_or_repeats() {
    let app = spawn_app().await;
    let posted = post_many(&app, 3, 10).await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("{}?limit=4", app.objects_path());
        if let Some(a) = &after {
            path.push_str(&format!("&added_after={a}"));
        }
        let r = app.get(&path).await;
        let Some(last) = r.headers().get("x-taxii-date-added-last") else {
            assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!({}));
            break;
        };
        after = Some(last.to_str().unwrap().to_owned());
        seen.extend(ids_of(&r.json().await.unwrap()));
    }
    assert_eq!(seen, posted);
}

/// Eight clients post while a reader follows with `added_after`: the reader ends with every
/// acknowledged object exactly once, and `date_added` never goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posters_and_a_follower_agree() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let app = Arc::new(spawn_app().await);
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { post_many(&app, 10, 20).await })
        })
        .collect();
    let follower = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            let mut after = String::from("1970-01-01T00:00:00Z");
            loop {
                // Read the flag before the request: an empty answer after the writers finished
                // means everything has been seen.
                let finished = done.load(Ordering::SeqCst);
                let path = format!("{}?limit=50&added_after={after}", app.objects_path());
                let r = app.get(&path).await;
                match r.headers().get("x-taxii-date-added-last") {
                    Some(last) => {
                        after = last.to_str().unwrap().to_owned();
                        seen.extend(ids_of(&r.json().await.unwrap()));
                    }
                    None if finished => break,
                    None => tokio::task::yield_now().await,
                }
            }
            seen
        })
    };
    let mut acknowledged = HashSet::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let seen = follower.await.unwrap();
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no object seen twice");
    assert_eq!(unique, acknowledged, "every acknowledged object seen");

    let manifest = app
        .get_json(&format!(
            "collections/{}/manifest/?limit=10000",
            app.test_feed
        ))
        .await;
    let dates: Vec<&str> = manifest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date_added"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), 1600);
    assert!(
        dates.windows(2).all(|w| w[0] < w[1]),
        "date_added strictly increasing"
    );
}
