//! Every TAXII 2.1 endpoint, its headers, status codes and media types, and bad input.

use relay_core::RelayConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn discovery_and_api_root_describe_the_server() {
    let app = spawn_app().await;
    let r = app.get("/taxii2/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], TAXII);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["title"], "isac-relay");
    assert_eq!(d["api_roots"], json!(["/taxii2/isac/"]));
    assert_eq!(d["default"], "/taxii2/isac/");

    let root = app.get_json("").await;
    assert_eq!(root["versions"], json!([TAXII]));
    assert_eq!(root["max_content_length"], 10 * 1024 * 1024);
}

#[tokio::test]
async fn collections_list_the_test_feed_with_the_callers_rights() {
    let app = spawn_app().await;
    let cols = app.get_json("collections/").await;
    let test = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "TEST")
        .cloned()
        .unwrap();
    assert_eq!(test["can_read"], true);
    assert_eq!(test["can_write"], true);
    assert_eq!(
        test["media_types"],
        json!(["application/stix+json;version=2.1"])
    );
    uuid::Uuid::parse_str(test["id"].as_str().unwrap()).unwrap();

    let by_id = app
        .get_json(&format!("collections/{}/", app.test_feed))
        .await;
    assert_eq!(by_id, test);
    let by_name = app.get_json("collections/TEST/").await;
    assert_eq!(by_name, test);

    let missing = app
        .get("collections/9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c01/")
        .await;
    assert_taxii_error(missing, StatusCode::NOT_FOUND).await;
    let missing = app.get("collections/NOPE/objects/").await;
    assert_taxii_error(missing, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let app = spawn_app().await;
    let url = app.url("collections/");
    let anonymous = app
        .client
        .get(&url)
        .header("Accept", TAXII)
        .send()
        .await
        .unwrap();
    let challenges: Vec<_> = anonymous
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic")),
        "{challenges:?}"
    );
    assert_taxii_error(anonymous, StatusCode::UNAUTHORIZED).await;

    let wrong = app
        .client
        .get(&url)
        .bearer_auth("isr_wrong-token-000000000000000")
        .send()
        .await
        .unwrap();
    assert_taxii_error(wrong, StatusCode::UNAUTHORIZED).await;

    let basic = app
        .client
        .get(&url)
        .basic_auth("admin", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let basic_wrong_user = app
        .client
        .get(&url)
        .basic_auth("mallory", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_taxii_error(basic_wrong_user, StatusCode::UNAUTHORIZED).await;
    let basic_wrong_pw = app
        .client
        .get(&url)
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_taxii_error(basic_wrong_pw, StatusCode::UNAUTHORIZED).await;
    let garbage = app
        .client
        .get(&url)
        .header("Authorization", "Basic %%%")
        .send()
        .await
        .unwrap();
    assert_taxii_error(garbage, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn media_types_are_negotiated() {
    let app = spawn_app().await;
    let get = |accept: &'static str| {
        app.client
            .get(app.url("collections/"))
            .bearer_auth(TOKEN)
            .header("Accept", accept)
            .send()
    };
    for ok in [
        "application/taxii+json",
        TAXII,
        "application/taxii+json;version=2.1, application/stix+json;version=2.1",
    ] {
        let r = get(ok).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{ok}");
        assert_eq!(r.headers()["content-type"], TAXII);
    }
    for refused in [
        "application/json",
        "application/taxii+json;version=2.0",
        "text/html",
    ] {
        let r = get(refused).await.unwrap();
        assert_taxii_error(r, StatusCode::NOT_ACCEPTABLE).await;
    }

    let obj = indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z");
    for ct in [
        "application/json",
        "application/stix+json;version=2.1",
        "text/plain",
    ] {
        let r = app
            .req(Method::POST, &app.objects_path())
            .header("Content-Type", ct)
            .body(json!({ "objects": [obj] }).to_string())
            .send()
            .await
            .unwrap();
        assert_taxii_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    assert!(
        app.manifest_all().await.is_empty(),
        "refused posts store nothing"
    );
}

#[tokio::test]
async fn post_returns_a_status_that_can_be_read_back() {
    let app = spawn_app().await;
    let (a, b) = (new_id("indicator"), new_id("malware"));
    let mut bad_time = indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z");
    bad_time["created"] = json!("yesterday");
    let status = app
        .post_ok(&[
            indicator(&a, "2024-01-01T00:00:00.000Z"),
            malware(&b),
            bad_time.clone(),
            json!({"type": "indicator", "spec_version": "2.1"}),
            json!("not an object"),
        ])
        .await;
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 5);
    assert_eq!(status["success_count"], 2);
    assert_eq!(status["failure_count"], 3);
    assert_eq!(status["pending_count"], 0);
    assert!(status.get("pendings").is_none(), "empty lists are omitted");
    let failures = status["failures"].as_array().unwrap();
    assert_eq!(failures[0]["id"], bad_time["id"]);
    let msg = failures[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("objects[2]") && msg.contains("$.created"),
        "{msg}"
    );
    assert!(failures[1]["message"].as_str().unwrap().contains("$.id"));
    let successes: Vec<_> = status["successes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(successes, [json!(a), json!(b)]);

    let id = status["id"].as_str().unwrap();
    let again = app.get_json(&format!("status/{id}/")).await;
    assert_eq!(again, status);
    let missing = app
        .get("status/2d086da7-4bdc-4f91-900e-d77486753710/")
        .await;
    assert_taxii_error(missing, StatusCode::NOT_FOUND).await;

    // Only the valid objects went in.
    let stored: Vec<String> = app
        .manifest_all()
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(stored, [a, b]);
}

#[tokio::test]
async fn reposting_a_version_is_a_success_that_stores_nothing_new() {
    let app = spawn_app().await;
    let id = new_id("indicator");
    let v1 = indicator(&id, "2024-01-01T00:00:00.000Z");
    app.post_ok(std::slice::from_ref(&v1)).await;
    // The same version again, in another textual form of the same timestamp.
    let mut same = v1.clone();
    same["modified"] = json!("2024-01-01T00:00:00Z");
    same["created"] = json!("2024-01-01T00:00:00Z");
    let status = app.post_ok(&[v1.clone(), same]).await;
    assert_eq!(status["success_count"], 2);
    assert_eq!(status["failure_count"], 0);
    assert!(
        status["successes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already")
    );
    assert_eq!(app.manifest_all().await.len(), 1);

    // An SCO has no version: posting it twice is a duplicate too.
    let sco = json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
    app.post_ok(std::slice::from_ref(&sco)).await;
    let status = app.post_ok(&[sco]).await;
    assert_eq!(status["success_count"], 1);
    assert_eq!(app.manifest_all().await.len(), 2);

    // A newer modified is a new version.
    app.post_ok(&[indicator(&id, "2024-02-01T00:00:00.000Z")])
        .await;
    assert_eq!(app.manifest_all().await.len(), 3);
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_change_nothing() {
    let app = spawn_app_with(RelayConfig {
        max_content_length: 2048,
        ..RelayConfig::default()
    })
    .await;
    let root = app.get_json("").await;
    assert_eq!(root["max_content_length"], 2048);
    let post = |body: String| {
        app.req(Method::POST, &app.objects_path())
            .header("Content-Type", TAXII)
            .body(body)
            .send()
    };
    for body in [
        "{not json",
        "",
        "[1,2]",
        "\"objects\"",
        r#"{"objects": {"a": 1}}"#,
        r#"{"objects": 3}"#,
    ] {
        let r = post(body.to_owned()).await.unwrap();
        let e = assert_taxii_error(r, StatusCode::BAD_REQUEST).await;
        assert!(e["description"].is_string(), "{body}: {e}");
    }
    let big: Vec<Value> = (0..20)
        .map(|_| indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z"))
        .collect();
    let r = post(json!({ "objects": big }).to_string()).await.unwrap();
    assert_taxii_error(r, StatusCode::PAYLOAD_TOO_LARGE).await;

    // A body that streams past the limit without a declared length is cut off too.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..10).map(|_| Ok("x".repeat(1000))).collect();
    let r = app
        .req(Method::POST, &app.objects_path())
        .header("Content-Type", TAXII)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, StatusCode::PAYLOAD_TOO_LARGE).await;

    // Exactly at the limit is not refused for its size.
    let at_limit = format!("{{\"objects\":[]}}{}", " ".repeat(2048 - 14));
    assert_eq!(at_limit.len(), 2048);
    assert_eq!(post(at_limit).await.unwrap().status(), StatusCode::ACCEPTED);
    assert!(app.manifest_all().await.is_empty());
}

#[tokio::test]
async fn filters_select_by_type_id_version_and_spec_version() {
    let app = spawn_app().await;
    let (i1, i2, m1) = (new_id("indicator"), new_id("indicator"), new_id("malware"));
    app.post_ok(&[
        indicator(&i1, "2024-01-01T00:00:00.000Z"),
        indicator(&i2, "2024-01-01T00:00:00.000Z"),
        malware(&m1),
    ])
    .await;
    app.post_ok(&[indicator(&i1, "2024-03-01T00:00:00.000Z")])
        .await;
    app.post_ok(&[indicator(&i1, "2024-02-01T00:00:00.000Z")])
        .await;
    let objects = app.objects_path();
    let app_ref = &app;
    let q = |query: &str| {
        let path = format!("{objects}?{query}");
        async move { app_ref.get_json(&path).await }
    };

    let all_latest = q("").await;
    assert_eq!(ids_of(&all_latest), [i2.clone(), m1.clone(), i1.clone()]);
    let latest_i1 = all_latest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == i1)
        .unwrap()
        .clone();
    assert_eq!(latest_i1["modified"], "2024-03-01T00:00:00.000Z");

    assert_eq!(
        ids_of(&q("match[type]=malware").await),
        std::slice::from_ref(&m1)
    );
    assert_eq!(ids_of(&q("match[type]=malware,indicator").await).len(), 3);
    assert_eq!(ids_of(&q("match[type]=tool").await), Vec::<String>::new());
    assert_eq!(q("match[type]=tool").await, json!({}));
    assert_eq!(
        ids_of(&q(&format!("match[id]={i2},{m1}")).await),
        [i2.clone(), m1.clone()]
    );
    assert_eq!(
        ids_of(&q(&format!("match[id]={i1}&match[type]=malware")).await),
        Vec::<String>::new()
    );

    let versions_of = |env: &Value| -> Vec<String> {
        env["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["modified"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        versions_of(&q(&format!("match[id]={i1}&match[version]=all")).await).len(),
        3
    );
    assert_eq!(
        versions_of(&q(&format!("match[id]={i1}&match[version]=first")).await),
        ["2024-01-01T00:00:00.000Z"]
    );
    assert_eq!(
        versions_of(&q(&format!("match[id]={i1}&match[version]=last")).await),
        ["2024-03-01T00:00:00.000Z"]
    );
    assert_eq!(
        versions_of(&q(&format!("match[id]={i1}&match[version]=first,last")).await),
        ["2024-01-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]
    );
    // A version is matched by instant, whatever its textual precision.
    assert_eq!(
        versions_of(
            &q(&format!(
                "match[id]={i1}&match[version]=2024-02-01T00:00:00Z"
            ))
            .await
        ),
        ["2024-02-01T00:00:00.000Z"]
    );
    assert_eq!(ids_of(&q("match[spec_version]=2.1").await).len(), 3);
    assert_eq!(q("match[spec_version]=2.0").await, json!({}));

    // The manifest filters alike and describes each version.
    let m = app
        .get_json(&format!(
            "collections/{}/manifest/?match[id]={i1}&match[version]=all",
            app.test_feed
        ))
        .await;
    let records = m["objects"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    for r in records {
        assert_eq!(r["id"], i1);
        assert_eq!(r["media_type"], "application/stix+json;version=2.1");
        stix::Timestamp::parse(r["date_added"].as_str().unwrap()).unwrap();
        assert_eq!(
            r["date_added"].as_str().unwrap().len(),
            27,
            "microsecond precision"
        );
    }
}

#[tokio::test]
async fn malformed_filters_are_400_with_a_taxii_error() {
    let app = spawn_app().await;
    let objects = app.objects_path();
    for query in [
        "added_after=yesterday",
        "added_after=2024-01-01",
        "limit=-3",
        "limit=0",
        "limit=many",
        "match[id]=indicator--nope",
        "match[type]=Not%20A%20Type",
        "match[version]=newest",
        "match[version]=all,first",
        "match[spec_version]=two",
        "next=not-a-cursor",
        "added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:00Z",
    ] {
        let r = app.get(&format!("{objects}?{query}")).await;
        let e = assert_taxii_error(r, StatusCode::BAD_REQUEST).await;
        assert!(
            e["description"].as_str().unwrap().len() > 10,
            "{query}: {e}"
        );
    }
    let bad_id = app.get(&format!("{objects}not-an-id/")).await;
    assert_taxii_error(bad_id, StatusCode::BAD_REQUEST).await;
    // A path segment that is not UTF-8 once decoded.
    let bad_path = app.get("collections/%FF%FE/objects/").await;
    assert_taxii_error(bad_path, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn one_object_its_versions_and_not_found() {
    let app = spawn_app().await;
    let id = new_id("indicator");
    for m in [
        "2024-01-01T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
    ] {
        app.post_ok(&[indicator(&id, m)]).await;
    }
    let objects = app.objects_path();
    let r = app.get(&format!("{objects}{id}/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-taxii-date-added-first"));
    let env: Value = r.json().await.unwrap();
    assert_eq!(env["objects"].as_array().unwrap().len(), 1);
    assert_eq!(env["objects"][0]["modified"], "2024-03-01T00:00:00.000Z");
    let all = app
        .get_json(&format!("{objects}{id}/?match[version]=all"))
        .await;
    assert_eq!(all["objects"].as_array().unwrap().len(), 3);

    let v = app.get_json(&format!("{objects}{id}/versions/")).await;
    // In date_added order, which is the order they were posted.
    assert_eq!(
        v["versions"],
        json!([
            "2024-01-01T00:00:00.000000Z",
            "2024-03-01T00:00:00.000000Z",
            "2024-02-01T00:00:00.000000Z"
        ])
    );
    assert_eq!(v["more"], false);
    let paged = app
        .get_json(&format!("{objects}{id}/versions/?limit=2"))
        .await;
    assert_eq!(paged["more"], true);
    assert_eq!(paged["versions"].as_array().unwrap().len(), 2);

    let unknown = new_id("indicator");
    assert_taxii_error(
        app.get(&format!("{objects}{unknown}/")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_taxii_error(
        app.get(&format!("{objects}{unknown}/versions/")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // A filter that excludes every version of an existing object is an empty envelope.
    let none = app
        .get(&format!(
            "{objects}{id}/?match[version]=2020-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(none.status(), StatusCode::OK);
    assert!(!none.headers().contains_key("x-taxii-date-added-first"));
    assert_eq!(none.json::<Value>().await.unwrap(), json!({}));
}

#[tokio::test]
async fn delete_removes_versions_and_reports_what_is_missing() {
    let app = spawn_app().await;
    let id = new_id("indicator");
    let other = new_id("malware");
    for m in [
        "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z",
    ] {
        app.post_ok(&[indicator(&id, m)]).await;
    }
    app.post_ok(&[malware(&other)]).await;
    let objects = app.objects_path();
    let delete = |query: &str| {
        app.req(Method::DELETE, &format!("{objects}{id}/{query}"))
            .send()
    };
    let r = delete("?match[version]=first").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], TAXII);
    let v = app.get_json(&format!("{objects}{id}/versions/")).await;
    assert_eq!(
        v["versions"],
        json!(["2024-02-01T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z"])
    );
    // The remaining oldest version is now the first.
    let first = app
        .get_json(&format!("{objects}{id}/?match[version]=first"))
        .await;
    assert_eq!(first["objects"][0]["modified"], "2024-02-01T00:00:00.000Z");

    let r = delete("?match[version]=2020-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_taxii_error(r, StatusCode::NOT_FOUND).await;
    let r = delete("?match[version]=bogus").await.unwrap();
    assert_taxii_error(r, StatusCode::BAD_REQUEST).await;

    assert_eq!(delete("").await.unwrap().status(), StatusCode::OK);
    assert_taxii_error(
        app.get(&format!("{objects}{id}/")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_taxii_error(delete("").await.unwrap(), StatusCode::NOT_FOUND).await;
    // Nothing else was touched.
    assert_eq!(
        app.manifest_all().await,
        [(other, "2024-01-01T00:00:00.000000Z".to_owned())]
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_taxii_errors() {
    let app = spawn_app().await;
    assert_taxii_error(app.get("/nowhere/").await, StatusCode::NOT_FOUND).await;
    assert_taxii_error(app.get("collections").await, StatusCode::NOT_FOUND).await;
    let put = app
        .req(Method::PUT, &app.objects_path())
        .send()
        .await
        .unwrap();
    assert_taxii_error(put, StatusCode::METHOD_NOT_ALLOWED).await;
    let post_root = app
        .req(Method::POST, "collections/")
        .header("Content-Type", TAXII)
        .send()
        .await
        .unwrap();
    assert_taxii_error(post_root, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn validation_failures_name_the_rule_and_warnings_are_kept() {
    let app = spawn_app().await;
    let mut late = indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z");
    late["valid_until"] = json!("2023-01-01T00:00:00Z");
    let odd = json!({
        "type": "widget", "spec_version": "2.1", "id": new_id("widget"),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"
    });
    let status = app.post_ok(&[late, odd.clone()]).await;
    assert_eq!(status["failure_count"], 1);
    let msg = status["failures"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("$.valid_until") && msg.contains("later than valid_from"),
        "{msg}"
    );
    let warned = status["successes"][0]["message"].as_str().unwrap();
    assert!(
        warned.starts_with("accepted with warnings") && warned.contains("$.type"),
        "{warned}"
    );
    let again = app
        .get_json(&format!("status/{}/", status["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        again["successes"][0]["message"], warned,
        "warnings are kept"
    );
}

#[tokio::test]
async fn a_large_envelope_is_checked_and_stored_whole() {
    let app = spawn_app().await;
    let mut objects: Vec<Value> = (0..400)
        .map(|_| indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z"))
        .collect();
    objects[123]["pattern"] = json!("[broken");
    let body = json!({ "objects": objects }).to_string();
    assert!(
        body.len() > 64 * 1024,
        "large enough to be checked off the async workers"
    );
    let status = app.post_ok(&objects).await;
    assert_eq!(status["success_count"], 399);
    assert_eq!(status["failure_count"], 1);
    assert!(
        status["failures"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("objects[123]: $.pattern")
    );
    assert_eq!(app.manifest_all().await.len(), 399);
}
